"""The retention job: personal data of seekers gone too long is removed, what the KPIs keep is pseudonymized,
and old records go once past their retention period (never before the six-month floor).

A seeker is *gone* on ``as_of`` when their profile (warehouse ``seekers.updated_at``) is older than
``seeker_retention_days`` and, within that period, the operational store shows no activity about them (no
SMS created, sent or replied to, no counsellor item created or updated, no conversation updated, no note,
no audit event naming them), no SMS still waiting to go out and no counsellor item still in a counsellor's
hands. For gone seekers:

- profiles, codes, protected attributes, the published copy, conversations, screening answers, their
  inbound messages and notes are deleted;
- matches, routing, feedback, short lists, SMS outbox rows and counsellor items keep their figures under a
  pseudonym, ``anon-`` + HMAC-SHA256 of the id under a key drawn for this run and then discarded: the
  same seeker gets the same pseudonym in every table of one run, and no one can map it back afterwards.
  Phone numbers, texts, explanations, free-text reasons and provider message ids are blanked.

Every run also deletes quarantined input lines, inbound messages that belong to no conversation, audit
events and run manifests older than their own periods. The suppression list is kept: an opt-out holds for
good. The operational store goes first, chunk by chunk, then the warehouse in one transaction, whose
profile rows are the to-do list: a run that stops half-way is finished by the next one (the seekers it
had done in the operational store then carry the next run's pseudonym in the warehouse, another one).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.opstore import OpStore
from connectors.optables import (
    ACTIVE_STATUSES,
    QUEUED,
    SENDING,
    audit_events,
    conversations,
    counsellor_queue,
    inbound_messages,
    notes,
    offer_key,
    screening_answers,
    seekers,
    sms_outbox,
    sms_status_events,
)
from connectors.warehouse import Warehouse
from tremplin.errors import TremplinError
from tremplin.settings import Settings

PSEUDONYM_PREFIX = "anon-"
CHUNK = 500  # seekers per operational-store transaction: short ones, so the web app and webhooks are not held up
DELETED, PSEUDONYMIZED = "deleted", "pseudonymized"
# every (table, action) the job reports, in this order, zero or not: a run is compared with another at a glance
ACTIONS: tuple[tuple[str, str], ...] = (
    ("opstore.seekers", DELETED),
    ("opstore.conversations", DELETED),
    ("opstore.screening_answers", DELETED),
    ("opstore.inbound_messages", DELETED),
    ("opstore.notes", DELETED),
    ("opstore.sms_status_events", DELETED),
    ("opstore.sms_outbox", PSEUDONYMIZED),
    ("opstore.counsellor_queue", PSEUDONYMIZED),
    ("opstore.audit_events", DELETED),
    ("warehouse.seekers", DELETED),
    ("warehouse.seeker_codes", DELETED),
    ("warehouse.seeker_protected", DELETED),
    ("warehouse.matches", PSEUDONYMIZED),
    ("warehouse.routing", PSEUDONYMIZED),
    ("warehouse.feedback", PSEUDONYMIZED),
    ("warehouse.shortlists", PSEUDONYMIZED),
    ("warehouse.quarantine", DELETED),
    ("warehouse.run_manifest", DELETED),
    ("warehouse.ingest_stats", DELETED),
    ("warehouse.run_steps", DELETED),
)


class RetentionError(TremplinError):
    """The retention job cannot run as asked (a bad ``as_of``, or a store refused a deletion)."""


@dataclass(frozen=True)
class Cutoffs:
    """What is older than these goes (datetimes in UTC; nights by their date)."""

    as_of: datetime
    seekers: datetime
    quarantine_before: date
    audit: datetime
    manifests_before: date

    @classmethod
    def of(cls, settings: Settings, as_of: date | datetime) -> Cutoffs:
        moment = _moment(as_of)
        return cls(
            as_of=moment,
            seekers=moment - timedelta(days=settings.seeker_retention_days),
            quarantine_before=(moment - timedelta(days=settings.quarantine_retention_days)).date(),
            audit=moment - timedelta(days=settings.audit_retention_days),
            manifests_before=(moment - timedelta(days=settings.manifest_retention_days)).date(),
        )


def _moment(as_of: date | datetime) -> datetime:
    """``as_of`` as an aware UTC datetime; a date stands for its midnight UTC."""
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise RetentionError(f"as_of {as_of.isoformat()} has no time zone: give a UTC offset")
        return as_of.astimezone(UTC)
    return datetime.combine(as_of, time(0), tzinfo=UTC)


def _pseudonym(key: bytes, seeker_id: str) -> str:
    """128 bits of HMAC-SHA256: fits the 64-character id columns, and no two seekers meet by chance.

    >>> p = _pseudonym(b"k" * 32, "JS00000001")
    >>> p[:5], len(p), p == _pseudonym(b"k" * 32, "JS00000001"), p == _pseudonym(b"j" * 32, "JS00000001")
    ('anon-', 37, True, False)
    """
    return PSEUDONYM_PREFIX + hmac.new(key, seeker_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def run(settings: Settings, as_of: date | datetime, *, dry_run: bool = False) -> dict[str, Any]:
    """Apply retention as of ``as_of`` (the caller's clock: today, or the DAG run's logical date).

    Returns ``{"as_of", "dry_run", "gone_seekers", "rows": {"<store>.<table>": {"<action>": n}}}``; with
    ``dry_run`` the counts are what a real run would change, and nothing changes. A second run changes
    nothing.
    """
    cut = Cutoffs.of(settings, as_of)
    counts: dict[tuple[str, str], int] = dict.fromkeys(ACTIONS, 0)
    key = secrets.token_bytes(32)  # lives only in this call: the pseudonyms cannot be reversed afterwards
    store = OpStore(settings.opstore)
    try:
        with Warehouse.of(settings) as wh:
            candidates = [row[0] for row in wh.execute("select_retention_candidates", {"cutoff": cut.seekers})]
            gone: list[str] = []
            for chunk in _chunks(candidates):
                gone += _opstore_seekers(store, chunk, cut, key, counts, dry_run=dry_run)
            _opstore_records(store, cut, counts, dry_run=dry_run)
            staged = pl.DataFrame(
                {"seeker_id": gone, "pseudonym": [_pseudonym(key, s) for s in gone]},
                schema={"seeker_id": pl.String, "pseudonym": pl.String},
            )
            _warehouse(wh, staged, cut, counts, dry_run=dry_run)
        result = {
            "as_of": cut.as_of.isoformat(),
            "dry_run": dry_run,
            "gone_seekers": len(gone),
            "rows": _nested(counts),
        }
        if not dry_run and any(counts.values()):
            _record(store, result, cut.as_of)
    finally:
        store.close()
    return result


def _nested(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (table, action), n in counts.items():
        out.setdefault(table, {})[action] = n
    return out


# --- operational store ---------------------------------------------------------------------------------


def _active(conn: Connection, ids: list[str], cut: Cutoffs) -> set[str]:
    """Those of ``ids`` the operational store shows activity about since the cutoff, or pending work."""
    since, since_day = cut.seekers, cut.seekers.date()
    o, q, conv = sms_outbox, counsellor_queue, conversations
    queries = [
        sa.select(o.c.seeker_id).where(
            o.c.seeker_id.in_(ids),
            sa.or_(
                o.c.run_date >= since_day,
                o.c.created_at >= since,
                o.c.sent_at >= since,
                o.c.replied_at >= since,
                o.c.status.in_([QUEUED, SENDING]),  # still to be sent: the number is needed
            ),
        ),
        sa.select(q.c.seeker_id).where(
            q.c.seeker_id.in_(ids),
            sa.or_(q.c.created_at >= since, q.c.updated_at >= since, q.c.status.in_(ACTIVE_STATUSES)),
        ),
        sa.select(conv.c.seeker_id).where(conv.c.seeker_id.in_(ids), conv.c.updated_at >= since),
        sa.select(notes.c.seeker_id).where(notes.c.seeker_id.in_(ids), notes.c.created_at >= since),
        # a counsellor still looking at the seeker's record; also means no audit row naming a gone seeker
        # is left behind, since audit events never outlive seeker data (audit_retention_days <= seeker's)
        sa.select(audit_events.c.seeker_id).where(audit_events.c.seeker_id.in_(ids), audit_events.c.at >= since),
    ]
    return {str(s) for s in conn.execute(sa.union(*queries)).scalars()}


def _count(conn: Connection, table: sa.Table, where: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one())


def _opstore_seekers(
    store: OpStore,
    candidates: list[str],
    cut: Cutoffs,
    key: bytes,
    counts: dict[tuple[str, str], int],
    *,
    dry_run: bool,
) -> list[str]:
    """Remove or pseudonymize what the operational store holds about the gone ones among ``candidates``
    (one transaction); returns them."""
    with store.begin() as conn:
        active = _active(conn, candidates, cut)
        gone = [s for s in candidates if s not in active]
        if not gone:
            return gone
        # a conversation's id is its offer's message id; some offers have none yet (no answer)
        their_conversations = sa.union(
            sa.select(conversations.c.conversation_id).where(conversations.c.seeker_id.in_(gone)),
            sa.select(sms_outbox.c.message_id).where(sms_outbox.c.seeker_id.in_(gone)),
        ).scalar_subquery()
        outbox = conn.execute(
            sa.select(
                sms_outbox.c.message_id,
                sms_outbox.c.run_date,
                sms_outbox.c.seeker_id,
                sms_outbox.c.vacancy_id,
                sms_outbox.c.provider_sid,
            ).where(sms_outbox.c.seeker_id.in_(gone))
        ).all()
        items = conn.execute(
            sa.select(
                counsellor_queue.c.item_id,
                counsellor_queue.c.run_date,
                counsellor_queue.c.seeker_id,
                counsellor_queue.c.vacancy_id,
                counsellor_queue.c.conversation_id,
            ).where(counsellor_queue.c.seeker_id.in_(gone))
        ).all()
        sids = [r.provider_sid for r in outbox if r.provider_sid]
        deletions: list[tuple[str, sa.Table, Any]] = [
            (
                "opstore.screening_answers",
                screening_answers,
                screening_answers.c.conversation_id.in_(their_conversations),
            ),
            ("opstore.inbound_messages", inbound_messages, inbound_messages.c.conversation_id.in_(their_conversations)),
            ("opstore.conversations", conversations, conversations.c.seeker_id.in_(gone)),
            # older than the records floor by construction: a note within the period makes its seeker active
            ("opstore.notes", notes, notes.c.seeker_id.in_(gone)),
            ("opstore.seekers", seekers, seekers.c.seeker_id.in_(gone)),
            # the provider's own log, reachable by message id, holds the number
            ("opstore.sms_status_events", sms_status_events, sms_status_events.c.message_sid.in_(sids)),
        ]
        for name, table, where in deletions:
            counts[(name, DELETED)] += _count(conn, table, where)
        counts[("opstore.sms_outbox", PSEUDONYMIZED)] += len(outbox)
        counts[("opstore.counsellor_queue", PSEUDONYMIZED)] += len(items)
        if dry_run:
            return gone
        for name, table, where in deletions:
            _delete(conn, table, where, name)
        # ids made of "night:seeker:vacancy" are rebuilt around the pseudonym (they are keys elsewhere too)
        renamed = {r.message_id: offer_key(r.run_date, _pseudonym(key, r.seeker_id), r.vacancy_id) for r in outbox}
        if outbox:
            conn.execute(
                sa.update(sms_outbox)
                .where(sms_outbox.c.message_id == sa.bindparam("old_id"))
                .values(
                    message_id=sa.bindparam("new_id"),
                    seeker_id=sa.bindparam("pseudonym"),
                    to_number="",
                    body="",
                    explanation={},
                    provider_sid=None,
                ),
                [
                    {"old_id": r.message_id, "new_id": renamed[r.message_id], "pseudonym": _pseudonym(key, r.seeker_id)}
                    for r in outbox
                ],
            )
        if items:
            conn.execute(
                sa.update(counsellor_queue)
                .where(counsellor_queue.c.item_id == sa.bindparam("old_id"))
                .values(
                    item_id=sa.bindparam("new_id"),
                    seeker_id=sa.bindparam("pseudonym"),
                    conversation_id=sa.bindparam("new_conversation"),
                    explanation={},
                    decision_reason=None,
                ),
                [
                    {
                        "old_id": r.item_id,
                        "new_id": offer_key(r.run_date, _pseudonym(key, r.seeker_id), r.vacancy_id),
                        "pseudonym": _pseudonym(key, r.seeker_id),
                        "new_conversation": renamed.get(r.conversation_id) if r.conversation_id else None,
                    }
                    for r in items
                ],
            )
    return gone


def _delete(conn: Connection, table: sa.Table, where: Any, name: str) -> None:
    try:
        conn.execute(sa.delete(table).where(where))
    except sa.exc.DBAPIError as exc:  # the append-only triggers: a row younger than the records floor
        raise RetentionError(f"the operational store refused to delete from {name}: {exc.orig}") from exc


def _opstore_records(store: OpStore, cut: Cutoffs, counts: dict[tuple[str, str], int], *, dry_run: bool) -> None:
    """Inbound messages tied to no conversation (STOP, HELP, a reply to nothing), and audit events, past their
    periods. (Those of a gone seeker's conversations went with the conversation.)"""
    stray = sa.and_(inbound_messages.c.received_at < cut.seekers, inbound_messages.c.conversation_id.is_(None))
    old_events = audit_events.c.at < cut.audit
    with store.begin() as conn:
        for name, table, where in (
            ("opstore.inbound_messages", inbound_messages, stray),
            ("opstore.audit_events", audit_events, old_events),
        ):
            counts[(name, DELETED)] += _count(conn, table, where)
            if not dry_run:
                _delete(conn, table, where, name)


def _record(store: OpStore, result: dict[str, Any], at: datetime) -> None:
    """One audit event per run that changed something: what went, never whom."""
    rows = {table: actions for table, actions in result["rows"].items() if any(actions.values())}
    with store.begin() as conn:
        conn.execute(
            sa.insert(audit_events).values(
                at=at,
                user_id=None,
                agency_id=None,
                action="retention",
                item_id=None,
                seeker_id=None,
                vacancy_id=None,
                details={"as_of": result["as_of"], "gone_seekers": result["gone_seekers"], "rows": rows},
            )
        )


# --- warehouse -----------------------------------------------------------------------------------------

# table -> the statement that pseudonymizes it, or deletes a gone seeker's rows from it
PSEUDONYMIZE = {
    "matches": "pseudonymize_matches",
    "routing": "pseudonymize_routing",
    "feedback": "pseudonymize_feedback",
    "shortlists": "pseudonymize_shortlists",
}
DELETE_GONE = {
    "seekers": "delete_gone_seekers",
    "seeker_codes": "delete_gone_seeker_codes",
    "seeker_protected": "delete_gone_seeker_protected",
}


def _warehouse(
    wh: Warehouse, staged: pl.DataFrame, cut: Cutoffs, counts: dict[tuple[str, str], int], *, dry_run: bool
) -> None:
    params = {"quarantine_before": cut.quarantine_before, "manifests_before": cut.manifests_before}
    frames = {"staged_gone": staged}
    found = wh.frame("count_retention_rows", params, frames).row(0, named=True)
    for table in PSEUDONYMIZE:
        counts[(f"warehouse.{table}", PSEUDONYMIZED)] += int(found[table])
    for table in (*DELETE_GONE, "quarantine", "run_manifest", "ingest_stats", "run_steps"):
        counts[(f"warehouse.{table}", DELETED)] += int(found[table])
    if dry_run:
        return
    with wh.transaction():
        if staged.height:
            for name in PSEUDONYMIZE.values():
                wh.execute(name, None, frames)
            for name in DELETE_GONE.values():
                wh.execute(name, None, frames)
        wh.execute("delete_old_quarantine", {"quarantine_before": cut.quarantine_before})
        wh.execute("delete_old_run_manifests", {"manifests_before": cut.manifests_before})
        wh.execute("delete_old_ingest_stats", {"manifests_before": cut.manifests_before})
        wh.execute("delete_old_run_steps", {"manifests_before": cut.manifests_before})


# --- entry points --------------------------------------------------------------------------------------


def retention_task(ds: str) -> dict[str, Any]:
    """The retention DAG's task: settings from the environment, ``as_of`` the run's logical date."""
    return run(Settings.from_env(), date.fromisoformat(ds))


def render(result: dict[str, Any]) -> str:
    """The counts as the CLI prints them."""
    title = f"tremplin retention as of {result['as_of']}" + (" (dry run: nothing changed)" if result["dry_run"] else "")
    lines = [title, "", f"Gone seekers: {result['gone_seekers']:,}", "", "Rows per table (action):"]
    for table, actions in result["rows"].items():
        for action, n in actions.items():
            lines.append(f"  {table:<30} {action:<14} {n:>9,}")
    return "\n".join(lines)
