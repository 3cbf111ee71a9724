"""The nightly steps, called alike by the Airflow tasks and the CLI.

Each step takes the settings and the run date, reads what the previous step left in the warehouse,
writes its own output for that date (deleting it first, so a re-run replaces rather than adds) and
returns a small dict of counts. The run date, never the wall clock, decides which inputs are read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from connectors import files
from connectors.opstore import OpStore
from connectors.optables import OPT_OUT, UNDELIVERABLE
from connectors.reference import Reference, cached_reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.normalize import CONCEPT_ID, LABEL, QUERY_ID, TEXT, TaxonomyIndex
from matching.offers import final_routing, select_offers, shortlists
from matching.rerank import FEATURES, RERANK_SCORE, train_reranker
from matching.route import OPTED_OUT, default_rules, route
from matching.route import UNDELIVERABLE as UNDELIVERABLE_COLUMN
from matching.vacancies import with_default_skills
from tremplin import code_version
from tremplin.encoder import title_encoder
from tremplin.errors import InputFileError
from tremplin.settings import Settings
from tremplin.validate import (
    SEEKER_REQUIRED,
    VACANCY_REQUIRED,
    missing_columns,
    validate_seekers,
    validate_vacancies,
)

MIN_NORMALIZE_SCORE = 0.6


def run_end(run_date: date) -> datetime:
    """Inputs updated before the end of the run date count for that night."""
    return datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def reference(settings: Settings) -> Reference:
    return cached_reference(str(settings.data_dir))


# --- ingest --------------------------------------------------------------------------------------


def sync_feedback(settings: Settings, run_date: date) -> dict[str, Any]:
    """First task of the night: mirror the answers to earlier offers into the warehouse's feedback table."""
    events = OpStore(settings.opstore).feedback_events(until=run_end(run_date))
    with Warehouse.of(settings) as wh, wh.transaction():
        wh.execute("upsert_feedback", None, {"staged_feedback": events})
    return {"feedback_events": events.height, "positive": int(events["label"].sum()) if events.height else 0}


INGEST_BATCH = 500_000  # rows of one input file validated at a time: memory follows this, not the file


def ingest(settings: Settings, run_date: date, *, batch: int = INGEST_BATCH) -> dict[str, Any]:
    """Validate and load the night's files; bad rows go to quarantine, good rows are upserted."""
    ref = reference(settings)
    day_dir = settings.inbox / run_date.isoformat()
    inputs = files.discover(day_dir)
    if not inputs:
        raise InputFileError(day_dir, "no seekers*, vacancies* or offres* file (.csv, .jsonl, .json, .parquet)")
    per_file: list[dict[str, Any]] = []
    with Warehouse.of(settings) as wh, wh.transaction():
        _open_manifest(wh, settings, run_date, ref, inputs)
        wh.execute("delete_quarantine", {"run_date": run_date})
        wh.execute("delete_ingest_stats", {"run_date": run_date})
        for item in inputs:
            per_file.append(_ingest_file(wh, settings, ref, item, run_date, batch=batch))
        # the record names each input by fingerprint and says how many rows it gave, even if a later step fails
        wh.execute("update_run_manifest_inputs", {"run_date": run_date, "inputs_json": json.dumps(per_file)})
    return {"files": per_file}


def _ingest_file(
    wh: Warehouse,
    settings: Settings,
    ref: Reference,
    item: files.InputFile,
    run_date: date,
    *,
    batch: int = INGEST_BATCH,
) -> dict[str, Any]:
    """Validate one file ``batch`` rows at a time and load it: every batch's good rows go to a staging table
    of the file, its bad rows to quarantine; then the newest row per id of the whole file is upserted."""
    name = item.path.name
    seekers = item.kind == files.SEEKERS
    kind = "seekers" if seekers else "vacancies"
    read, bad_rows, staged = 0, 0, 0
    for number, raw in enumerate(files.read_raw_batches(item, rows=batch)):
        if number == 0:
            absent = missing_columns(raw, SEEKER_REQUIRED if seekers else VACANCY_REQUIRED)
            if absent and raw.height:
                raise InputFileError(item.path, f"missing required column(s): {', '.join(absent)}", line=1)
        if seekers:
            checked = validate_seekers(
                raw,
                file=name,
                communes=ref.communes,
                default_radius_km=settings.default_radius_km,
                max_radius_km=settings.max_radius_km,
            )
        else:
            checked = validate_vacancies(
                raw, file=name, communes=ref.communes, rome_codes=ref.rome.sheets.get_column(c.ROME_CODE)
            )
        if checked.good.height:
            step = f"append_file_{kind}" if staged else f"stage_file_{kind}"
            numbered = checked.good.with_columns(pl.lit(number, dtype=pl.Int32).alias("batch"))
            wh.execute(step, None, {f"batch_{kind}": numbered})
            staged += 1
        if checked.quarantine.height:
            wh.execute("insert_quarantine", {"run_date": run_date}, {"staged_quarantine": checked.quarantine})
        read += checked.read
        bad_rows += checked.quarantine.get_column(c.LINE).n_unique()
    if staged and seekers:
        wh.execute("upsert_seekers", {"source_file": name})
        wh.execute("upsert_seeker_protected")
    elif staged:
        wh.execute("upsert_vacancies", {"source_file": name})
    stats = {
        "file": name,
        "kind": item.kind,
        "rows_read": read,
        "rows_loaded": read - bad_rows,
        "rows_quarantined": bad_rows,
    }
    fingerprint = _fingerprint(item.path)
    wh.execute("upsert_ingest_stats", {"run_date": run_date, **stats, "fingerprint": fingerprint})
    return {**stats, "sha256_16": fingerprint}


def _open_manifest(
    wh: Warehouse, settings: Settings, run_date: date, ref: Reference, inputs: list[files.InputFile]
) -> None:
    wh.execute(
        "upsert_run_manifest",
        {
            "run_date": run_date,
            "run_id": f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}",
            "started_at": datetime.now(UTC),
            "code_version": code_version(),
            "settings_hash": settings.fingerprint(),
            "settings_json": json.dumps(settings.public_dict(), sort_keys=True, default=str),
            "taxonomy_version": ref.rome.version,
            "inputs_json": json.dumps(
                [{"file": i.path.name, "kind": i.kind, "sha256_16": _fingerprint(i.path)} for i in inputs]
            ),
        },
    )


# --- normalize -----------------------------------------------------------------------------------


def title_index(ref: Reference, encoder: str = "none") -> TaxonomyIndex:
    """ROME appellations and sheet labels to sheets; ``encoder``: see ``tremplin.encoder``."""
    return TaxonomyIndex.build(ref.rome.title_labels.rename({c.ROME_CODE: CONCEPT_ID}), embed=title_encoder(encoder))


def skill_index(ref: Reference) -> TaxonomyIndex:
    return TaxonomyIndex.build(ref.rome.items.select(pl.col("item_code").alias(CONCEPT_ID), LABEL))


NORMALIZE_BATCH = 500_000  # profiles read, normalized and written at a time: memory follows this, not the inputs


def normalize(settings: Settings, run_date: date, *, batch: int = NORMALIZE_BATCH) -> dict[str, Any]:
    """Map free-text titles and skills of new or changed profiles to ROME sheets and items, ``batch``
    profiles at a time (a profile's codes depend on it alone, so the batches change no result)."""
    ref = reference(settings)
    totals = {"seekers": 0, "free_text_titles": 0, "free_text_skills": 0, "unresolved": 0}
    indexes: tuple[TaxonomyIndex, TaxonomyIndex] | None = None
    memo: dict[str, pl.DataFrame] = {}  # terms searched by earlier batches: each distinct term is searched once
    with Warehouse.of(settings) as wh:
        wh.execute("stage_seekers_to_normalize")
        while True:
            todo = wh.frame("select_seekers_to_normalize", {"rows": batch, "skip": totals["seekers"]})
            if todo.is_empty():
                break
            indexes = indexes or (title_index(ref, settings.title_encoder), skill_index(ref))
            codes, counts = normalize_profiles(todo, ref, indexes=indexes, memo=memo)
            with wh.transaction():
                wh.execute("upsert_seeker_codes", None, {"staged_codes": codes})
            totals["seekers"] += todo.height
            for name, count in counts.items():
                totals[name] += count
    return totals


def normalize_profiles(
    profiles: pl.DataFrame,
    ref: Reference,
    *,
    indexes: tuple[TaxonomyIndex, TaxonomyIndex] | None = None,
    memo: dict[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Codes per seeker: known codes kept, free text resolved, core items of the sheets when no skill.
    ``indexes``: the title and skill indexes (default: ROME's, lexical); ``memo``: the (term, code) of the
    titles and skills earlier batches searched, read and extended (code null: no concept close enough)."""
    known_sheets = ref.rome.sheets.get_column(c.ROME_CODE).implode()
    known_items = ref.rome.items.get_column("item_code").implode()

    def split(column: str, known: pl.Series) -> pl.DataFrame:
        return (
            profiles.select(c.SEEKER_ID, column)
            .explode(column)
            .drop_nulls(column)
            .rename({column: "term"})
            .with_columns(pl.col("term").is_in(known).alias("is_code"))
        )

    titles, skills = split(c.OCCUPATIONS, known_sheets), split(c.SKILLS, known_items)
    resolved = []
    title_idx, skill_idx = indexes or (title_index(ref), skill_index(ref))
    memo = memo if memo is not None else {}
    for name, terms, index in (("titles", titles, title_idx), ("skills", skills, skill_idx)):
        searched = memo.get(name, pl.DataFrame(schema={"term": pl.String, "code": pl.String}))
        # only terms no earlier batch searched: a term's concept depends on it alone
        free = (
            terms.filter(~pl.col("is_code"))
            .select(pl.col("term").unique().sort())
            .join(searched, on="term", how="anti")
        )
        queries = free.select(pl.col("term").alias(QUERY_ID), pl.col("term").alias(TEXT))
        best = index.best(queries, min_score=MIN_NORMALIZE_SCORE) if free.height else None
        if best is not None:
            found = best.select(pl.col(QUERY_ID).alias("term"), pl.col(CONCEPT_ID).alias("code"))
            searched = pl.concat([searched, free.join(found, on="term", how="left")])  # unresolved: code null
        memo[name] = searched
        # left order kept: a seeker's unresolved terms are listed in the order of the profile, not of a hash join
        resolved.append(
            terms.join(searched, on="term", how="left", maintain_order="left").with_columns(
                pl.when(pl.col("is_code")).then(pl.col("term")).otherwise(pl.col("code")).alias("code")
            )
        )
    sheets = (
        resolved[0]
        .group_by(c.SEEKER_ID)
        .agg(
            pl.col("code").drop_nulls().unique().sort().alias(c.ROME_CODES),
            pl.col("term").filter(pl.col("code").is_null()).alias("_bad_titles"),
        )
    )
    items = (
        resolved[1]
        .group_by(c.SEEKER_ID)
        .agg(
            pl.col("code").drop_nulls().unique().sort().alias(c.ITEM_CODES),
            pl.col("term").filter(pl.col("code").is_null()).alias("_bad_skills"),
        )
    )
    core = ref.rome.core_items.group_by(c.ROME_CODE).agg(pl.col("item_code").sort().alias("_core"))
    implied = (
        sheets.select(c.SEEKER_ID, c.ROME_CODES)
        .explode(c.ROME_CODES)
        .join(core, left_on=c.ROME_CODES, right_on=c.ROME_CODE)
        .group_by(c.SEEKER_ID)
        .agg(pl.col("_core").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().alias("_implied"))
    )
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    out = (
        profiles.select(c.SEEKER_ID, pl.col(c.UPDATED_AT).alias("profile_updated_at"))
        .join(sheets, on=c.SEEKER_ID, how="left")
        .join(items, on=c.SEEKER_ID, how="left")
        .join(implied, on=c.SEEKER_ID, how="left")
        .with_columns(
            pl.col(c.ROME_CODES).fill_null(empty_list),
            pl.when(pl.col(c.ITEM_CODES).list.len().fill_null(0) > 0)
            .then(pl.col(c.ITEM_CODES))
            .otherwise(pl.col("_implied").fill_null(empty_list))
            .alias(c.ITEM_CODES),
            pl.concat_list(
                pl.col("_bad_titles").fill_null(empty_list), pl.col("_bad_skills").fill_null(empty_list)
            ).alias("unresolved"),
        )
        .select(c.SEEKER_ID, c.ROME_CODES, c.ITEM_CODES, "unresolved", "profile_updated_at")
    )
    counts = {
        "free_text_titles": int((~titles.get_column("is_code")).sum()),
        "free_text_skills": int((~skills.get_column("is_code")).sum()),
        "unresolved": int(out.get_column("unresolved").list.len().sum()),
    }
    return out, counts


# --- score ---------------------------------------------------------------------------------------


def load_match_inputs(wh: Warehouse, settings: Settings, run_date: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fresh seekers with coordinates and density, and vacancies with their skills (core items if none)."""
    ref = reference(settings)
    fresh_since = run_end(run_date) - timedelta(days=settings.stale_profile_days)
    params = {"fresh_since": fresh_since, "run_end": run_end(run_date)}
    places = ref.communes.select(c.COMMUNE, c.LATITUDE, c.LONGITUDE, c.DENSITY_LEVEL)
    # in seeker_id order, as selected: the night's snapshot files are then the same from one run to the next
    seekers = wh.frame("select_active_seekers", params).join(places, on=c.COMMUNE, how="inner", maintain_order="left")
    open_vacancies = wh.frame("select_vacancies", {"run_end": run_end(run_date), "run_date": run_date})
    vacancies = with_default_skills(open_vacancies, ref.rome.core_items)
    return seekers, vacancies


# --- route ---------------------------------------------------------------------------------------


PAIR = [c.SEEKER_ID, c.VACANCY_ID]
ONE_DAY = timedelta(days=1)


def offers_by_night(store: OpStore, run_date: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The (seeker, vacancy) pairs already offered on nights before ``run_date``, on it (its first run's, when
    this is a re-run) and after it (when this is a backfill of a past night)."""
    first = store.first_offers()  # one read: a pair belongs to the night it was first offered on
    night = pl.col("first_night")
    nights = (night < run_date, night == run_date, night > run_date)
    before, own, later = (first.filter(keep).select(PAIR) for keep in nights)
    return before, own, later


def caps_history(store: OpStore, run_date: date, *, later_nights: bool) -> pl.DataFrame:
    """The caps' history of the nights before ``run_date``; for a backfill (``later_nights``), also the SMS of
    later nights still waiting to go out (they would reach the seeker the same day) and the offers of the 6
    nights after (the weekly cap holds on both sides). The night's own offers never count, so that a re-run
    sees what its first run saw."""
    history = store.seeker_history(run_date)
    if not later_nights:
        return history
    # seeker_history counts the nights before the date it is given: the differences are the later nights
    every, upto = store.seeker_history(date.max), store.seeker_history(run_date + ONE_DAY)
    week_after = store.seeker_history(run_date + 7 * ONE_DAY)  # its "week" is the 6 nights after run_date
    later = (
        every.select(c.SEEKER_ID, pl.col("sms_today").alias("_every"))
        .join(upto.select(c.SEEKER_ID, pl.col("sms_today").alias("_upto")), on=c.SEEKER_ID, how="left")
        .join(week_after.select(c.SEEKER_ID, pl.col("offers_week").alias("_after")), on=c.SEEKER_ID, how="left")
        .select(
            c.SEEKER_ID,
            (pl.col("_every").fill_null(0) - pl.col("_upto").fill_null(0)).alias("_later_sms"),
            pl.col("_after").fill_null(0).alias("_later_offers"),
        )
    )
    return (
        history.join(later, on=c.SEEKER_ID, how="full", coalesce=True)
        .with_columns(
            (pl.col("sms_today").fill_null(0) + pl.col("_later_sms").fill_null(0)).alias("sms_today"),
            (pl.col("offers_week").fill_null(0) + pl.col("_later_offers").fill_null(0)).alias("offers_week"),
        )
        .select(history.columns)
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
