"""Route: each matched seeker's channel and tonight's offer, under caps and opt-outs; the vacancies' short lists."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import polars as pl

from connectors.opstore import OpStore
from connectors.optables import OPT_OUT, UNDELIVERABLE
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.history import split_by_night, with_later_nights
from matching.offers import final_routing, select_offers, shortlists
from matching.rerank import FEATURES, RERANK_SCORE, train_reranker
from matching.route import OPTED_OUT, default_rules, route
from matching.route import UNDELIVERABLE as UNDELIVERABLE_COLUMN
from tremplin.nightly.common import reference
from tremplin.settings import Settings

ONE_DAY = timedelta(days=1)


def offers_by_night(store: OpStore, run_date: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The (seeker, vacancy) pairs already offered on nights before ``run_date``, on it (its first run's, when
    this is a re-run) and after it (when this is a backfill of a past night)."""
    return split_by_night(store.first_offers(), run_date)  # one read: a pair belongs to its first night


def caps_history(store: OpStore, run_date: date, *, later_nights: bool) -> pl.DataFrame:
    """The caps' history of the nights before ``run_date``; for a backfill (``later_nights``), with the later
    nights' counts added (``matching.history.with_later_nights``)."""
    history = store.seeker_history(run_date)
    if not later_nights:
        return history
    # seeker_history counts the nights before the date it is given: the differences are the later nights
    return with_later_nights(
        history,
        every=store.seeker_history(date.max),
        upto=store.seeker_history(run_date + ONE_DAY),
        week_after=store.seeker_history(run_date + 7 * ONE_DAY),  # its "week" is the 6 nights after run_date
    )


def route_step(settings: Settings, run_date: date) -> dict[str, Any]:
    """Choose each matched seeker's channel and tonight's offer, under caps and opt-outs."""
    store = OpStore(settings.opstore)
    suppressed = store.suppressed_numbers(OPT_OUT).implode()
    undeliverable = store.suppressed_numbers(UNDELIVERABLE).implode()
    # offers of every other night, earlier or later: a backfill never repeats a later night's offer
    earlier, _own, later = offers_by_night(store, run_date)
    other_nights = pl.concat([earlier, later])
    history = caps_history(store, run_date, later_nights=later.height > 0)
    places = reference(settings).communes.select(c.COMMUNE, c.DENSITY_LEVEL)
    with Warehouse.of(settings) as wh:
        # only the columns routing reads: at 5M seekers the full profiles and skill lists would not fit
        night = {"run_date": run_date}
        matches, model = ranking(wh, settings, run_date, wh.frame("select_matches_to_route", night))
        wh.execute("update_run_manifest_model", {"run_date": run_date, "model_json": json.dumps(model)})
        matched = wh.frame("select_seekers_to_route", night).join(
            places, on=c.COMMUNE, how="inner", maintain_order="left"
        )
        vacancies = wh.frame("select_vacancies_to_route", night)
    # the warehouse is closed while routing runs: DuckDB's cache of what it read goes back to the machine
    history = matched.select(
        c.SEEKER_ID,
        pl.col(c.MOBILE).is_in(suppressed).fill_null(False).alias(OPTED_OUT),
        pl.col(c.MOBILE).is_in(undeliverable).fill_null(False).alias(UNDELIVERABLE_COLUMN),
    ).join(history, on=c.SEEKER_ID, how="left")
    rules = default_rules(
        rural_density_levels=settings.rural_density_levels,
        no_response_limit=settings.no_response_limit,
        sms_per_day=settings.sms_per_day,
        offers_per_week=settings.offers_per_week,
    )
    decided = route(matched, history, rules=rules)
    offers = select_offers(
        matches,
        decided,
        vacancies,
        already_offered=other_nights,
        vacancy_load=other_nights.group_by(c.VACANCY_ID).len("offered_count").cast({"offered_count": pl.Int64}),
        shortlist_per_position=settings.shortlist_per_position,
    )
    routing = final_routing(decided, offers)
    lists = shortlists(matches, vacancies, shortlist_per_position=settings.shortlist_per_position)
    del matches, offers
    with Warehouse.of(settings) as wh, wh.transaction():
        wh.execute("delete_routing", {"run_date": run_date})
        wh.execute("delete_shortlists", {"run_date": run_date})
        if routing.height:
            wh.execute("insert_routing", {"run_date": run_date}, {"staged_routing": routing})
        if lists.height:
            wh.execute("insert_shortlists", {"run_date": run_date}, {"staged_shortlists": lists})
    by_channel = routing.group_by(c.CHANNEL).len().sort(c.CHANNEL)
    shortlisted = lists.get_column(c.VACANCY_ID).n_unique()
    return {
        "seekers": routing.height,
        **dict(by_channel.iter_rows()),
        "shortlisted_vacancies": shortlisted,
        "ranking": model["ranking"],
    }


def ranking(
    wh: Warehouse, settings: Settings, run_date: date, matches: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The matches ordered for tonight's offers and short lists, and the record of the model used.

    A re-ranker trained on the feedback of earlier nights orders them only when it beat the default
    weights on the held-out days; the stored scores and their components stay the explained ones.
    """
    weights = (settings.weight_skill, settings.weight_occupation, settings.weight_distance)
    examples = wh.frame("select_feedback_examples", {"run_date": run_date})
    model = train_reranker(examples, default_weights=weights) if examples.height else None
    record: dict[str, Any] = {
        "ranking": "default_weights",
        "weights": dict(zip(FEATURES, weights, strict=True)),
        "feedback_examples": examples.height,
        "reranker": model.manifest() if model else None,
    }
    if model is None or not model.use or matches.is_empty():
        return matches, record
    record["ranking"] = "reranker"
    return model.score(matches).with_columns(pl.col(RERANK_SCORE).alias(c.SCORE)).drop(RERANK_SCORE), record
