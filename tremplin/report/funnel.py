"""What happened to the offers after the night, read from the operational store.

The funnel follows the offers published by a window of nights: SMS written, sent, delivered, replied,
OUI, screened, contacted by a counsellor, put forward, hired; and beside it the counsellor path (seekers
with low digital access, called rather than texted). Times are in UTC; SQLite hands back naive values
written as UTC, PostgreSQL aware ones, and both are read the same way here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.optables import (
    ACTIVE_STATUSES,
    HIRED,
    INTERESTED,
    OPEN,
    PUT_FORWARD,
    SAID_YES,
    STATE_INTERESTED,
    TO_CALL,
    agencies,
    conversations,
    counsellor_queue,
    sms_outbox,
)

FORWARDED = (PUT_FORWARD, HIRED)

OUTBOX_SCHEMA = {
    "message_id": pl.String,
    "run_date": pl.Date,
    "seeker_id": pl.String,
    "vacancy_id": pl.String,
    "status": pl.String,
    "segments": pl.Int64,
    "encoding": pl.String,
    "sent_at": pl.Datetime("us"),
    "replied_at": pl.Datetime("us"),
}
QUEUE_SCHEMA = {
    "run_date": pl.Date,
    "agency_id": pl.String,
    "seeker_id": pl.String,
    "vacancy_id": pl.String,
    "queue": pl.String,
    "status": pl.String,
    "created_at": pl.Datetime("us"),
    "contacted_at": pl.Datetime("us"),
}


def utc(value: Any) -> Any:
    """Aware datetimes to naive UTC (how SQLite returns them), so both stores compare alike."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _frame(conn: Connection, query: sa.Select[Any], schema: Mapping[str, Any]) -> pl.DataFrame:
    rows = [{k: utc(v) for k, v in row._mapping.items()} for row in conn.execute(query)]
    return pl.DataFrame(rows, schema=dict(schema), orient="row") if rows else pl.DataFrame(schema=dict(schema))


def offers(conn: Connection, first: date, last: date) -> pl.DataFrame:
    """Every SMS offer of the nights ``first`` to ``last``, with the conversation state and the item's fate."""
    o, cv, q = sms_outbox.c, conversations.c, counsellor_queue.c
    outbox = _frame(
        conn,
        sa.select(o.message_id, o.run_date, o.seeker_id, o.vacancy_id, o.status, o.segments, o.encoding)
        .add_columns(o.sent_at, o.replied_at)
        .where(o.run_date.between(first, last)),
        OUTBOX_SCHEMA,
    )
    states = _frame(
        conn,
        sa.select(cv.conversation_id.label("message_id"), cv.state)
        .join(sms_outbox, sms_outbox.c.message_id == cv.conversation_id)
        .where(o.run_date.between(first, last)),
        {"message_id": pl.String, "state": pl.String},
    )
    items = _frame(
        conn,
        sa.select(q.seeker_id, q.vacancy_id, q.status.label("item_status"), q.contacted_at)
        .add_columns(q.created_at.label("item_created_at"))
        .join(sms_outbox, sa.and_(o.seeker_id == q.seeker_id, o.vacancy_id == q.vacancy_id))
        .where(o.run_date.between(first, last)),
        {
            "seeker_id": pl.String,
            "vacancy_id": pl.String,
            "item_status": pl.String,
            "contacted_at": pl.Datetime("us"),
            "item_created_at": pl.Datetime("us"),
        },
    )
    return outbox.join(states, on="message_id", how="left").join(items, on=["seeker_id", "vacancy_id"], how="left")


def queue_items(conn: Connection, first: date, last: date) -> pl.DataFrame:
    """Counsellor queue items created by the nights ``first`` to ``last`` (every queue)."""
    q = counsellor_queue.c
    return _frame(
        conn,
        sa.select(q.run_date, q.agency_id, q.seeker_id, q.vacancy_id, q.queue, q.status, q.created_at)
        .add_columns(q.contacted_at)
        .where(q.run_date.between(first, last)),
        QUEUE_SCHEMA,
    )


# a counsellor reached the seeker: a call answered, or a put forward (review.actions stamps contacted_at for both)
CONTACTED = pl.col("contacted_at").is_not_null()


def sms_funnel(offered: pl.DataFrame) -> list[tuple[str, int]]:
    """The SMS path, stage by stage (each stage a subset of the one before, except delivery reports)."""
    said_yes = pl.col("state").is_in(SAID_YES)
    counts = offered.select(
        written=pl.len(),
        sent=pl.col("sent_at").is_not_null().sum(),
        delivered=(pl.col("status") == "delivered").sum(),
        replied=pl.col("replied_at").is_not_null().sum(),
        oui=said_yes.sum(),
        screened=(pl.col("state") == STATE_INTERESTED).sum(),
        contacted=(said_yes & CONTACTED).sum(),
        forwarded=(said_yes & pl.col("item_status").is_in(FORWARDED)).sum(),
        hired=(said_yes & (pl.col("item_status") == HIRED)).sum(),
    ).row(0, named=True)
    labels = {
        "written": "SMS écrits",
        "sent": "envoyés",
        "delivered": "délivrés",
        "replied": "réponses",
        "oui": "OUI",
        "screened": "questions répondues",
        "contacted": "rappelés par un conseiller",
        "forwarded": "présentés à l'employeur",
        "hired": "recrutés",
    }
    return [(labels[k], int(v or 0)) for k, v in counts.items()]


def counsellor_funnel(items: pl.DataFrame) -> list[tuple[str, int]]:
    """The counsellor path: seekers called about a match instead of texted."""
    to_call = items.filter(pl.col("queue") == TO_CALL)
    counts = to_call.select(
        queued=pl.len(),
        contacted=CONTACTED.sum(),
        forwarded=pl.col("status").is_in(FORWARDED).sum(),
        hired=(pl.col("status") == HIRED).sum(),
    ).row(0, named=True)
    labels = {
        "queued": "à appeler",
        "contacted": "joints",
        "forwarded": "présentés à l'employeur",
        "hired": "recrutés",
    }
    return [(labels[k], int(v or 0)) for k, v in counts.items()]


def quantiles(delays: pl.Series) -> dict[str, float | int | None]:
    """Count, median and 90th percentile of a series of delays (in the series' unit)."""
    kept = delays.drop_nulls()
    if kept.is_empty():
        return {"n": 0, "p50": None, "p90": None}
    return {
        "n": kept.len(),
        "p50": round(float(kept.quantile(0.5, "linear") or 0.0), 1),
        "p90": round(float(kept.quantile(0.9, "linear") or 0.0), 1),
    }


def delays(offered: pl.DataFrame, items: pl.DataFrame) -> dict[str, Any]:
    """Minutes from SMS sent to the reply; hours from a queue item's creation to the counsellor's contact."""
    minutes = (pl.col("replied_at") - pl.col("sent_at")).dt.total_seconds() / 60
    hours = (pl.col("contacted_at") - pl.col("created_at")).dt.total_seconds() / 3600
    by_queue = {
        queue: quantiles(items.filter(pl.col("queue") == queue).select(hours).to_series())
        for queue in (INTERESTED, TO_CALL)
    }
    return {"reply_minutes": quantiles(offered.select(minutes).to_series()), "contact_hours": by_queue}


def backlog(conn: Connection, as_of: datetime) -> list[dict[str, Any]]:
    """Items still waiting for a counsellor, per agency and queue, with the age of the oldest (days)."""
    q = counsellor_queue.c
    rows = conn.execute(
        sa.select(q.agency_id, agencies.c.name, q.queue, q.status, sa.func.count(), sa.func.min(q.created_at))
        .select_from(counsellor_queue.outerjoin(agencies, agencies.c.agency_id == q.agency_id))
        .where(q.status.in_(ACTIVE_STATUSES))
        .group_by(q.agency_id, agencies.c.name, q.queue, q.status)
    ).all()
    now = utc(as_of)
    per_agency: dict[str, dict[str, Any]] = {}
    for agency_id, name, queue, status, count, oldest in rows:
        entry = per_agency.setdefault(
            agency_id,
            {"agency_id": agency_id, "name": name or agency_id, "open": 0, "in_progress": 0, "oldest_open_days": None},
        )
        entry[queue] = entry.get(queue, 0) + (count if status == OPEN else 0)
        if status == OPEN:
            entry["open"] += count
            age = (now - utc(oldest)).total_seconds() / 86_400
            entry["oldest_open_days"] = max(entry["oldest_open_days"] or 0.0, round(age, 1))
        else:
            entry["in_progress"] += count
    return sorted(per_agency.values(), key=lambda e: (-e["open"], e["agency_id"]))
