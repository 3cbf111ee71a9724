"""The night's publish step: the copies the counsellor pages read, then the SMS outbox and the counsellor queue
in the operational store, written in parts so that memory follows the part, not the night."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from connectors import optables
from connectors.opstore import OpStore
from connectors.optables import QUEUED, TO_CALL, counsellor_queue, offer_key, queue_item, sms_outbox
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.explain import EXPLANATION, MATCHED_LABELS, MISSING_LABELS, with_explanations
from matching.history import PAIR
from matching.normalize import LABEL
from tremplin import clock
from tremplin.labels import contract_label, working_time_label
from tremplin.nightly.common import reference
from tremplin.nightly.route import ONE_DAY, offers_by_night
from tremplin.settings import Settings
from tremplin.sms.text import encoding, render_offer, segments

PUBLISH_BATCH = 200_000  # offers (and offered seekers) written at a time: memory follows this, not the night


def publish(settings: Settings, run_date: date, *, batch: int = PUBLISH_BATCH) -> dict[str, Any]:
    """Write tonight's SMS outbox and counsellor queue items, after the copies the counsellor pages read
    (seekers, vacancies, agencies, the night's weights: the web app never opens the warehouse).
    Publishing twice adds nothing and changes nothing.

    The night is written in parts of about ``batch`` offers: seekers' copies by seeker, offers by phone
    number, so that every offer to one number gets its reply reference in the same part."""
    ref = reference(settings)
    names = dict(ref.communes.select(c.COMMUNE, "name").iter_rows())
    item_labels = ref.rome.items.select("item_code", LABEL)
    store = OpStore(settings.opstore)
    now = clock.now()
    night = {"run_date": run_date}
    with Warehouse.of(settings, read_only=True) as wh:
        routed_offers = int(wh.scalar("count_offers_to_publish", night) or 0)
        parts = max(1, -(-routed_offers // max(1, batch)))
        manifest = wh.frame("select_run_manifest", night)
        published_before = "publish" in wh.frame("select_run_steps", night)["step"].to_list()
        # closing days from the feed; a month back covers every message that can still be waiting
        closing = wh.frame("select_vacancy_closures", {"since": run_date - timedelta(days=30)})
        copies: Counter[str] = Counter(seekers_published=0, agencies_added=0)
        for part in range(parts):
            seekers = wh.frame("select_published_seekers", {**night, "part": part, "parts": parts})
            copies.update(_publish_seekers(store, _seeker_rows(seekers, ref, names, run_date)))
        vacancies = _vacancy_rows(wh.frame("select_published_vacancies", night), names, run_date)
        copies["vacancies_published"] = store.upsert(optables.vacancies, vacancies, newer="run_date")
        _publish_weights(store, run_date=run_date, weights=_run_weights(settings, manifest), now=now)
        # A night's offers are published once. A re-run may route differently from the first run when the store
        # moved on since (SMS went out, replies, opt-outs, a backfilled night): once the night's publish step has
        # finished its offers are final, and an interrupted one completes without giving a seeker a second offer.
        _earlier, own, later = offers_by_night(store, run_date)
        out: Counter[str] = Counter(sms_offers=0, sms_added=0, queue_offers=0, queue_added=0, offers_not_published=0)
        for part in range(parts):
            offers = wh.frame("select_offers_to_publish", {**night, "part": part, "parts": parts})
            written = _publish_offers(
                settings,
                store,
                with_explanations(offers, item_labels),
                names=names,
                run_date=run_date,
                own=own,
                later=later,
                final=published_before,
                now=now,
            )
            out.update(written)
    closures = store.sync_feed_closures(closing.rows(), now=now)
    return {**out, "vacancy_closures": closures, **copies, "parts": parts}


def _publish_offers(
    settings: Settings,
    store: OpStore,
    offers: pl.DataFrame,
    *,
    names: dict[str, str],
    run_date: date,
    own: pl.DataFrame,
    later: pl.DataFrame,
    final: bool,
    now: datetime,
) -> dict[str, int]:
    """Write one part's SMS and counsellor items (``offers`` with their explanations). ``own``: the pairs the
    store holds for this night already; ``final``: the night's publish finished before (its offers stand);
    ``later``: pairs of later nights."""
    routed = offers.height
    if final:
        offers = offers.join(own, on=PAIR, how="semi")
    else:
        taken = own.join(offers.select(PAIR), on=PAIR, how="anti").select(c.SEEKER_ID).unique()
        offers = offers.join(taken, on=c.SEEKER_ID, how="anti")
    not_before = datetime.combine(run_date, time(settings.send_start_hour), tzinfo=ZoneInfo(settings.timezone))
    sms_numbers = offers.filter(pl.col(c.CHANNEL) == c.CHANNEL_SMS)[c.MOBILE].to_list()
    earlier = store.reply_refs(sms_numbers, before=run_date)
    if later.height:
        # a backfill: the references later nights gave these numbers are taken too ("OUI 1" must name one offer)
        upto = store.reply_refs(sms_numbers, before=run_date + ONE_DAY)
        for phone, count in store.reply_refs(sms_numbers, before=date.max).items():
            earlier[phone] = earlier.get(phone, 0) + count - upto.get(phone, 0)
    sms_rows, queue_rows = [], []
    for offer in offers.iter_rows(named=True):
        key = offer_key(run_date, offer[c.SEEKER_ID], offer[c.VACANCY_ID])
        explanation = _explanation(offer)
        if offer[c.CHANNEL] == c.CHANNEL_SMS:
            # 1, 2, ... per phone number, so that "OUI 2" answers the second offer even after a third
            # arrived, and two seekers sharing a phone never get the same reference
            earlier[offer[c.MOBILE]] = earlier.get(offer[c.MOBILE], 0) + 1
            reply_ref = (earlier[offer[c.MOBILE]] - 1) % 99 + 1
            body = render_offer(
                title=offer[c.TITLE],
                commune=names.get(offer["vacancy_commune"], offer["vacancy_commune"]),
                distance_km=offer[c.DISTANCE_KM],
                contract=contract_label(offer[c.CONTRACT_TYPE]),
                hours=working_time_label(offer[c.WORKING_TIME]),
                matched_skills=len(offer[c.MATCHED_SKILLS]),
                sender=settings.sms_sender,
                ref=reply_ref,
                template=settings.sms_offer_template,
            )
            sms_rows.append(
                {
                    "message_id": key,
                    "run_date": run_date,
                    "seeker_id": offer[c.SEEKER_ID],
                    "vacancy_id": offer[c.VACANCY_ID],
                    "agency_id": offer[c.AGENCY_ID],
                    "to_number": offer[c.MOBILE],
                    "reply_ref": reply_ref,
                    "body": body,
                    "segments": segments(body),
                    "encoding": encoding(body),
                    "score": offer[c.SCORE],
                    "explanation": explanation,
                    "status": QUEUED,
                    "attempts": 0,
                    "not_before": not_before,
                    "created_at": now,
                }
            )
        else:
            queue_rows.append(
                queue_item(
                    item_id=key,
                    run_date=run_date,
                    agency_id=offer[c.AGENCY_ID],
                    seeker_id=offer[c.SEEKER_ID],
                    vacancy_id=offer[c.VACANCY_ID],
                    queue=TO_CALL,
                    reason=offer[c.REASON],
                    score=offer[c.SCORE],
                    explanation=explanation,
                    created_at=now,
                )
            )
    return {
        "sms_offers": len(sms_rows),
        "sms_added": store.insert_ignoring_duplicates(sms_outbox, sms_rows),
        "queue_offers": len(queue_rows),
        "queue_added": store.insert_ignoring_duplicates(counsellor_queue, queue_rows),
        "offers_not_published": routed - offers.height,
    }


def _publish_seekers(store: OpStore, seekers: list[dict[str, Any]]) -> dict[str, int]:
    """Upsert one part's seeker copies, after their agencies when not known yet (a name set by someone stays)."""
    agency_ids = sorted({row[c.AGENCY_ID] for row in seekers})
    added_agencies = store.insert_ignoring_duplicates(
        optables.agencies, [{"agency_id": agency, "name": f"Agence {agency}"} for agency in agency_ids]
    )
    return {
        "seekers_published": store.upsert(optables.seekers, seekers, newer="run_date"),
        "agencies_added": added_agencies,
    }


def _publish_weights(store: OpStore, *, run_date: date, weights: dict[str, Any], now: datetime) -> None:
    """Record the night's weights (first publish time kept, so a re-run changes nothing)."""
    first = {row["run_date"]: row["published_at"] for row in store.table_rows(optables.published_runs)}
    store.upsert(
        optables.published_runs, [{"run_date": run_date, "weights": weights, "published_at": first.get(run_date, now)}]
    )


def _seeker_rows(seekers: pl.DataFrame, ref: Reference, names: dict[str, str], run_date: date) -> list[dict[str, Any]]:
    """One row per seeker offered tonight, with the profile the matching used, labelled (a counsellor
    reads "Boulanger", not "D1102"), and no protected attribute."""
    sheet_labels = dict(ref.rome.sheets.select(c.ROME_CODE, LABEL).iter_rows())
    item_labels = dict(ref.rome.items.select("item_code", LABEL).iter_rows())
    density = dict(ref.communes.select(c.COMMUNE, c.DENSITY_LEVEL).iter_rows())

    def labelled(codes: list[str] | None, labels: dict[str, str]) -> list[dict[str, str]]:
        return [{"code": code, "label": labels.get(code, code)} for code in codes or []]

    rows = []
    for seeker in seekers.iter_rows(named=True):
        updated_at = seeker[c.UPDATED_AT]
        profile = {
            "occupations": labelled(seeker[c.ROME_CODES], sheet_labels),
            "skills": labelled(seeker[c.ITEM_CODES], item_labels),
            c.RADIUS_KM: seeker[c.RADIUS_KM],
            c.CONTRACT_TYPES: seeker[c.CONTRACT_TYPES],
            c.WORKING_TIME: seeker[c.WORKING_TIME],
            c.DRIVING_LICENCE: seeker[c.DRIVING_LICENCE],
            c.EXPERIENCE_MONTHS: seeker[c.EXPERIENCE_MONTHS],
            c.QUALIFICATION_CODE: seeker[c.QUALIFICATION_CODE],
            c.SMS_CONSENT: seeker[c.SMS_CONSENT],
            c.PREFERRED_CHANNEL: seeker[c.PREFERRED_CHANNEL],
            c.DENSITY_LEVEL: density.get(seeker[c.COMMUNE]),
            c.CHANNEL: seeker[c.CHANNEL],
            "route_reason": seeker[c.REASON],
            c.UPDATED_AT: updated_at.astimezone(UTC).isoformat() if updated_at is not None else None,
        }
        rows.append(
            {
                "seeker_id": seeker[c.SEEKER_ID],
                "agency_id": seeker[c.AGENCY_ID],
                "phone": seeker[c.MOBILE],
                "commune": seeker[c.COMMUNE],
                "commune_name": names.get(seeker[c.COMMUNE], seeker[c.COMMUNE]),
                "profile": profile,
                "run_date": run_date,
            }
        )
    return rows


def _vacancy_rows(offered: pl.DataFrame, names: dict[str, str], run_date: date) -> list[dict[str, Any]]:
    """One row per vacancy offered tonight, by either channel."""
    vacancies = offered.unique(c.VACANCY_ID, keep="first").sort(c.VACANCY_ID)
    return [
        {
            "vacancy_id": vacancy[c.VACANCY_ID],
            "title": vacancy[c.TITLE],
            "rome_code": vacancy[c.ROME_CODE],
            "commune": vacancy["vacancy_commune"],
            "commune_name": names.get(vacancy["vacancy_commune"], vacancy["vacancy_commune"]),
            "contract_type": vacancy[c.CONTRACT_TYPE],
            "working_time": vacancy[c.WORKING_TIME],
            "positions": vacancy[c.POSITIONS],
            # the input file the vacancy came from (the column holds 32 characters)
            "source": vacancy["vacancy_source"][:32],
            "run_date": run_date,
        }
        for vacancy in vacancies.iter_rows(named=True)
    ]


def _run_weights(settings: Settings, manifest: pl.DataFrame) -> dict[str, Any]:
    """The weights and thresholds of the night, and the re-ranker route recorded in the run manifest."""
    model = json.loads(manifest["model_json"][0]) if manifest.height and manifest["model_json"][0] else {}
    reranker = model.get("reranker")
    return {
        "weight_skill": settings.weight_skill,
        "weight_occupation": settings.weight_occupation,
        "weight_distance": settings.weight_distance,
        "min_score": settings.min_score,
        "top_k": settings.top_k,
        "ranking": model.get("ranking", "default_weights"),
        "reranker": None
        if reranker is None
        else {
            "version": reranker["version"],
            "used": reranker["used"],
            "coefficients": dict(zip(reranker["features"], reranker["coefficients"], strict=True)),
            "intercept": reranker["intercept"],
        },
    }


def _explanation(offer: dict[str, Any]) -> dict[str, Any]:
    """What a counsellor sees of an offer (also kept with an SMS, for when it goes to a counsellor)."""

    def labelled(codes: list[str], labels: list[str]) -> list[dict[str, str]]:
        return [{"code": code, "label": label} for code, label in zip(codes, labels, strict=True)]

    return {
        "sentence": offer[EXPLANATION],
        "title": offer[c.TITLE],
        "rome_code": offer[c.ROME_CODE],
        "distance_km": round(float(offer[c.DISTANCE_KM]), 1),
        "occupation_relation": offer[c.OCCUPATION_RELATION],
        "matched_skills": labelled(offer[c.MATCHED_SKILLS], offer[MATCHED_LABELS]),
        "missing_required_skills": labelled(offer[c.MISSING_REQUIRED_SKILLS], offer[MISSING_LABELS]),
        "components": {
            "skill": round(float(offer[c.SKILL_SCORE]), 4),
            "occupation": round(float(offer[c.OCCUPATION_SCORE]), 4),
            "distance": round(float(offer[c.DISTANCE_SCORE]), 4),
        },
    }
