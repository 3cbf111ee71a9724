"""Everything the run report shows for one night, as one JSON-ready dict, read from both stores.

The warehouse gives what the night did (inputs, freshness, matches, routing, the manifest and the steps
that finished); the operational store gives what happened next (the funnel, delays, SMS cost, queue
backlog, counsellors' decisions). The fairness audit joins the two per seeker; it is the only reader of
the protected attributes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import SAID_YES, audit_events, conversations, counsellor_queue, sms_outbox
from connectors.warehouse import Warehouse
from matching import columns as c
from tremplin.errors import TremplinError
from tremplin.nightly import summary
from tremplin.nightly.common import reference, run_end
from tremplin.nightly.tasks import NIGHT_STEPS
from tremplin.oversight.columns import ALL_AGENCIES
from tremplin.oversight.fairness import fairness_audit
from tremplin.oversight.human import override_rates, override_trend
from tremplin.report import funnel
from tremplin.report.labels import DIMENSIONS_SHORT, METRICS
from tremplin.settings import Settings

VACANCY_BUCKETS = ((0, 0, "0"), (1, 1, "1"), (2, 5, "2-5"), (6, 10, "6-10"), (11, 20, "11-20"), (21, 50, "21-50"))
OVERRIDE_WEEKS = 12  # the oversight trend looks this far back
MAX_ALERTS_EACH = 3  # more breaches than this for one dimension and metric make one alert line


class UnknownRun(TremplinError):
    """No night in the warehouse answers to that run id or date."""


def resolve_run(settings: Settings, run: str) -> date:
    """A run id (``2026-11-23-ab12cd34``, from the manifest) or a run date (``2026-11-23``) to the run date."""
    with Warehouse.of(settings, read_only=True) as wh:
        found = wh.scalar("select_run_by_id", {"run_id": run})
    if found is not None:
        return found if isinstance(found, date) else date.fromisoformat(str(found))
    try:
        return date.fromisoformat(run)
    except ValueError:
        raise UnknownRun(f"--run {run!r}: no run with that id in {settings.warehouse}, and not a date") from None


def collect(settings: Settings, run_date: date, *, as_of: datetime) -> dict[str, Any]:
    """The report's figures for the night ``run_date``, with the operational store read as of ``as_of``."""
    out: dict[str, Any] = {"run_date": run_date.isoformat(), "generated_at": as_of.astimezone(UTC).isoformat()}
    with Warehouse.of(settings, read_only=True) as wh:
        out.update(_night(wh, settings, run_date))
        audited = wh.frame("select_audit_seekers", _fresh(settings, run_date) | {"run_date": run_date})
    store = OpStore(settings.opstore)
    first = run_date - timedelta(days=settings.report_funnel_nights - 1)
    with store.begin() as conn:
        offered = funnel.offers(conn, first, run_date)
        items = funnel.queue_items(conn, first, run_date)
        out["funnel"] = {
            "nights": [first.isoformat(), run_date.isoformat()],
            "sms": funnel.sms_funnel(offered),
            "counsellor": funnel.counsellor_funnel(items),
            **funnel.delays(offered, items),
        }
        out["sms_cost"] = _cost(settings, offered)
        out["backlog"] = funnel.backlog(conn, as_of)
        outcomes = _outcomes(conn, run_date)
        decisions = _decisions(conn, as_of)
    out["fairness"] = _fairness(settings, run_date, audited, outcomes)
    out["oversight"] = _oversight(settings, decisions)
    out["alerts"] = _alerts(out)
    return out


def _fresh(settings: Settings, run_date: date) -> dict[str, Any]:
    end = run_end(run_date)
    return {"fresh_since": end - timedelta(days=settings.stale_profile_days), "run_end": end}


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.write_json()) if frame.height else []


def _night(wh: Warehouse, settings: Settings, run_date: date) -> dict[str, Any]:
    """What the night itself did, from the warehouse."""
    manifest = wh.frame("select_run_manifest", {"run_date": run_date})
    done = dict(wh.frame("select_run_steps", {"run_date": run_date}).iter_rows())  # frames: no pytz needed
    params = _fresh(settings, run_date)
    files, reasons = summary.inputs(wh, run_date)
    ages = [
        dict(zip(("band", "matched_on", "seekers"), row, strict=True))
        for row in wh.execute("count_profile_ages", params)
    ]
    pairs, seekers, vacancies = wh.execute("count_matches", {"run_date": run_date})[0]
    per_seeker = wh.execute("count_matches_per_seeker", {"run_date": run_date})
    per_vacancy = dict(wh.execute("count_matches_per_vacancy", {"run_date": run_date, "run_end": params["run_end"]}))
    routing = summary.routing_by_reason(wh, run_date)
    record = manifest.row(0, named=True) if manifest.height else None
    return {
        "manifest": _manifest(record),
        "steps": {
            "expected": list(NIGHT_STEPS),
            "done": {step: at.astimezone(UTC).isoformat() for step, at in done.items()},
            "missing": [step for step in NIGHT_STEPS if step not in done],
        },
        "inputs": {
            "files": files,
            "read": sum(f["read"] for f in files),
            "loaded": sum(f["loaded"] for f in files),
            "quarantined": sum(f["quarantined"] for f in files),
            "top_quarantine_reasons": reasons,
        },
        "freshness": {
            "stale_profile_days": settings.stale_profile_days,
            "excluded": sum(a["seekers"] for a in ages if not a["matched_on"]),
            "by_age": ages,
        },
        "matches": {
            "pairs": pairs,
            "seekers": seekers,
            "vacancies": vacancies,
            "per_seeker": [{"matches": m, "seekers": n} for m, n in per_seeker],
            "per_vacancy": [
                {"bucket": label, "vacancies": sum(n for m, n in per_vacancy.items() if low <= m <= high)}
                for low, high, label in VACANCY_BUCKETS
            ]
            + [{"bucket": "> 50", "vacancies": sum(n for m, n in per_vacancy.items() if m > 50)}],
            "open_vacancies": sum(per_vacancy.values()),
        },
        "routing": {"by_channel": summary.by_channel(routing), "by_reason": routing},
    }


def _manifest(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    model = json.loads(record["model_json"]) if record["model_json"] else None
    return {
        "run_id": record["run_id"],
        "started_at": record["started_at"].astimezone(UTC).isoformat(),
        "finished_at": record["finished_at"].astimezone(UTC).isoformat() if record["finished_at"] else None,
        "code_version": record["code_version"],
        "settings_hash": record["settings_hash"],
        "taxonomy_version": record["taxonomy_version"],
        "inputs": json.loads(record["inputs_json"]),
        "model": model,
    }


def _cost(settings: Settings, offered: pl.DataFrame) -> dict[str, Any]:
    sent = offered.filter(pl.col("sent_at").is_not_null())
    segments = int(sent.get_column("segments").sum() or 0)
    return {
        "messages": sent.height,
        "segments": segments,
        "ucs2_messages": sent.filter(pl.col("encoding") == "UCS-2").height,
        "price_per_segment": settings.sms_price_per_segment,
        "currency": settings.sms_price_currency,
        "cost": round(segments * settings.sms_price_per_segment, 2),
    }


def _outcomes(conn: sa.Connection, run_date: date) -> pl.DataFrame:
    """Per seeker, what came of the night's offers: texted, replied, said yes or went further, offered at all."""
    o, q, cv = sms_outbox.c, counsellor_queue.c, conversations.c
    sms = conn.execute(
        sa.select(o.seeker_id, o.sent_at.is_not(None), o.replied_at.is_not(None), cv.state.in_(SAID_YES))
        .select_from(sms_outbox.outerjoin(conversations, cv.conversation_id == o.message_id))
        .where(o.run_date == run_date)
    ).all()
    queued = conn.execute(sa.select(q.seeker_id, q.status.in_(funnel.FORWARDED)).where(q.run_date == run_date)).all()
    rows = [(s, bool(t), bool(r), bool(y), bool(t)) for s, t, r, y in sms]
    rows += [(s, False, False, bool(f), True) for s, f in queued]
    schema = {c.SEEKER_ID: pl.String, "texted": pl.Boolean, "replied": pl.Boolean, "positive": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema | {"offered": pl.Boolean}, orient="row")
    return frame.group_by(c.SEEKER_ID).agg(pl.all().any())


def _fairness(settings: Settings, run_date: date, audited: pl.DataFrame, outcomes: pl.DataFrame) -> dict[str, Any]:
    density = reference(settings).communes.select(c.COMMUNE, c.DENSITY_LEVEL)
    seekers = (
        audited.join(density, on=c.COMMUNE, how="left")
        .join(outcomes, on=c.SEEKER_ID, how="left")
        .with_columns(pl.col("texted", "replied", "positive", "offered").fill_null(False))
    )
    table = fairness_audit(
        seekers,
        run_year=run_date.year,
        threshold=settings.fairness_threshold,
        min_group_size=settings.fairness_min_group,
        alpha=settings.fairness_alpha,
    )
    return {
        "threshold": settings.fairness_threshold,
        "min_group_size": settings.fairness_min_group,
        "alpha": settings.fairness_alpha,
        "population": seekers.height,
        "rows": _records(table),
        "breaches": _records(table.filter(pl.col("breach"))),
    }


def _decisions(conn: sa.Connection, as_of: datetime) -> pl.DataFrame:
    a = audit_events.c
    since = as_of - timedelta(weeks=OVERRIDE_WEEKS)
    rows = conn.execute(
        sa.select(a.at, a.agency_id, a.action).where(a.at >= since, a.at <= as_of, a.agency_id.is_not(None))
    ).all()
    schema: dict[str, Any] = {"at": pl.Datetime("us"), "agency_id": pl.String, "action": pl.String}
    return pl.DataFrame([(funnel.utc(at), ag, ac) for at, ag, ac in rows], schema=schema, orient="row")


def _oversight(settings: Settings, decisions: pl.DataFrame) -> dict[str, Any]:
    rates = override_rates(
        decisions, low_rate=settings.override_low_rate, min_decisions=settings.override_min_decisions
    )
    trend = override_trend(decisions).with_columns(
        (
            (pl.col("decisions") >= settings.override_min_decisions) & (pl.col("rate") < settings.override_low_rate)
        ).alias("rubber_stamp")
    )
    overall = trend.filter(pl.col("agency_id") == ALL_AGENCIES)
    return {
        "low_rate": settings.override_low_rate,
        "min_decisions": settings.override_min_decisions,
        "weeks": OVERRIDE_WEEKS,
        "by_agency": _records(rates),
        "trend": _records(trend),
        "rubber_stamp": _records(rates.filter(pl.col("rubber_stamp"))),
        "rubber_stamp_weeks": _records(overall.filter(pl.col("rubber_stamp"))),
    }


def _fr(ratio: float) -> str:
    return f"{ratio:.2f}".replace(".", ",")


def _alerts(out: dict[str, Any]) -> list[str]:
    """What ops must look at, in words, first thing on the page."""
    alerts = []
    if out["manifest"] is None:
        alerts.append("Aucune trace de cette nuit dans le registre des exécutions : rien n'a tourné.")
    if out["steps"]["missing"]:
        alerts.append("Nuit incomplète : étapes manquantes : " + ", ".join(out["steps"]["missing"]) + ".")
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for breach in out["fairness"]["breaches"]:
        grouped.setdefault((breach["dimension"], breach["metric"]), []).append(breach)
    for (dimension, metric), breaches in grouped.items():
        best = breaches[0]["best_group"]
        if len(breaches) <= MAX_ALERTS_EACH:
            for b in breaches:
                alerts.append(
                    f"Écart d'équité ({DIMENSIONS_SHORT[dimension]}) : « {b['group']} », {METRICS[metric]} à "
                    f"{_fr(b['ratio'])} fois celle du groupe le mieux servi « {best} »."
                )
            continue
        lowest = sorted(breaches, key=lambda b: (b["ratio"], b["group"]))[:MAX_ALERTS_EACH]
        alerts.append(
            f"Écarts d'équité ({DIMENSIONS_SHORT[dimension]}) : {len(breaches)} groupes sous le seuil pour "
            f"« {METRICS[metric]} » face au mieux servi « {best} » ; les plus bas : "
            + ", ".join(f"« {b['group']} » ({_fr(b['ratio'])})" for b in lowest)
            + "."
        )
    for week in out["oversight"]["rubber_stamp_weeks"]:
        alerts.append(
            f"Semaine du {week['period_start'][:10]}, toutes agences : {week['decisions']} décisions, "
            f"{week['overrides']} correction(s) ({_fr(100 * week['rate'])} %) : validation quasi systématique ?"
        )
    for agency in out["oversight"]["rubber_stamp"]:
        alerts.append(
            f"Agence {agency['agency_id']} : {agency['decisions']} décisions, {agency['overrides']} correction(s) "
            f"({_fr(100 * agency['rate'])} %) : validation quasi systématique ?"
        )
    return alerts
