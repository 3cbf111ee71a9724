"""What counsellors do to an item, each in one transaction with its audit event.

An action names the item's version the counsellor saw. The update only applies to that version, so when
two counsellors act on one item at once the second finds it changed, is told by whom and how, and
nothing is overwritten. Notes are append-only and never conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.opstore import OpStore
from connectors.optables import (
    ACTIVE_STATUSES,
    CONTACTED,
    FLAGGED,
    HIRED,
    NOT_INTERESTED,
    OPEN,
    PUT_FORWARD,
    WRONG_MATCH,
    audit_events,
    counsellor_queue,
    notes,
    users,
)
from tremplin.errors import TremplinError
from tremplin.review.accounts import User

q = counsellor_queue

# contact outcomes, in the order the form offers them (their wording: tremplin.labels); only "reached" counts as
# contact (it also stops SMS still queued for the seeker)
REACHED = "reached"
OUTCOMES = (REACHED, "no_answer", "voicemail", "wrong_number")
# action -> (statuses it applies to, status after; None keeps the status), in the order a counsellor meets
# them on an item's page
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "contacted": ((OPEN, CONTACTED), None),
    "put_forward": ((OPEN, CONTACTED), PUT_FORWARD),
    "hired": ((CONTACTED, PUT_FORWARD), HIRED),
    "not_interested": (ACTIVE_STATUSES, NOT_INTERESTED),
    "wrong_match": (ACTIVE_STATUSES, WRONG_MATCH),
    "flag": (ACTIVE_STATUSES, None),
    "reassign": (ACTIVE_STATUSES, None),
    "reopen": ((NOT_INTERESTED, WRONG_MATCH), OPEN),
}
# audit events that record a view of a seeker's data, not something done to an item
VIEWS = ("view_contact", "view_record", "export_shortlist")
NEEDS_REASON = ("not_interested", "wrong_match", "flag", "reopen")
MAX_TEXT = 2_000


class ActionError(TremplinError):
    """The action does not apply (bad input, or not possible in the item's status)."""


class NotFound(TremplinError):
    """No such item in the counsellor's agency."""


class Conflict(TremplinError):
    """Someone changed the item since the counsellor loaded it: who (None for the system), how, when."""

    def __init__(self, by: str | None, action: str | None, at: datetime | None) -> None:
        super().__init__(f"item changed by {by or 'the system'} ({action or 'update'})")
        self.by, self.action, self.at = by, action, at


def audit(
    conn: Connection,
    user: User | None,
    action: str,
    *,
    at: datetime,
    item_id: str | None = None,
    seeker_id: str | None = None,
    vacancy_id: str | None = None,
    agency_id: str | None = None,
    **details: Any,
) -> None:
    """Append one audit event (the table refuses updates and deletes)."""
    conn.execute(
        sa.insert(audit_events).values(
            at=at,
            user_id=user.user_id if user else None,
            agency_id=agency_id or (user.agency_id if user else None),
            action=action,
            item_id=item_id,
            seeker_id=seeker_id,
            vacancy_id=vacancy_id,
            details=details,
        )
    )


def record_view(store: OpStore, user: User, what: str, *, at: datetime, **where: Any) -> None:
    """A counsellor saw a seeker's contact details (item page, short list, export)."""
    with store.begin() as conn:
        audit(conn, user, what, at=at, **where)


def act(
    store: OpStore,
    user: User,
    item_id: str,
    action: str,
    *,
    version: int,
    at: datetime,
    outcome: str | None = None,
    reason: str | None = None,
    assignee: int | None = None,
) -> dict[str, Any]:
    """Apply one counsellor action to an item of their agency; returns the item as it now is.

    Raises NotFound (no such item in the agency), ActionError (does not apply) or Conflict (the item
    changed since ``version``)."""
    if action not in TRANSITIONS:
        raise ActionError(f"unknown action {action!r}")
    reason = (reason or "").strip()[:MAX_TEXT] or None
    if action in NEEDS_REASON and not reason:
        raise ActionError("give a reason: it is what a colleague (and the seeker, on request) will read")
    if action == "contacted" and outcome not in OUTCOMES:
        raise ActionError(f"contact outcome: one of {', '.join(OUTCOMES)}")
    with store.begin() as conn:
        row = conn.execute(sa.select(q).where(q.c.item_id == item_id, q.c.agency_id == user.agency_id)).first()
        if row is None:
            raise NotFound(f"no item {item_id!r} in agency {user.agency_id}")
        current = dict(row._mapping)
        if current["version"] != version:
            raise _conflict(conn, current)
        allowed, after = TRANSITIONS[action]
        if current["status"] not in allowed:
            raise ActionError(f"« {action} » does not apply to an item that is {current['status']}")
        values: dict[str, Any] = {"updated_at": at, "updated_by": user.user_id, "version": version + 1}
        if after is not None:
            values["status"] = after
        details: dict[str, Any] = {"from_status": current["status"]}
        if action == "contacted":
            values["outcome"] = outcome
            details["outcome"] = outcome
            if outcome == REACHED:
                values.update(status=CONTACTED, contacted_at=at)
        if action == "put_forward":
            values["decided_at"] = at
            if current["contacted_at"] is None:
                values["contacted_at"] = at
        if action in ("not_interested", "wrong_match", "hired"):
            values["decided_at"] = at
        if action == "reopen":
            values["decided_at"] = None
        if reason:
            values["decision_reason"] = reason
            details["reason"] = reason
        if action == "flag":
            values["queue"] = FLAGGED
            details["from_queue"] = current["queue"]
        if action == "reassign":
            if assignee is None or not _colleague(conn, user.agency_id, assignee):
                raise ActionError("reassign to a counsellor of your agency")
            values["assigned_to"] = assignee
            details["assigned_to"] = assignee
        elif current["assigned_to"] is None:
            values["assigned_to"] = user.user_id  # whoever works an unassigned item takes it
        changed = conn.execute(
            sa.update(q).where(q.c.item_id == item_id, q.c.version == version).values(**values)
        ).rowcount
        if not changed:  # someone committed between our read and our write
            raise _conflict(conn, current)
        audit(
            conn,
            user,
            action,
            at=at,
            item_id=item_id,
            seeker_id=current["seeker_id"],
            vacancy_id=current["vacancy_id"],
            **details,
        )
        return {**current, **values}


def add_note(store: OpStore, user: User, item_id: str, body: str, *, at: datetime) -> None:
    """A free note on the seeker, from an item of the agency; notes are kept, never edited."""
    body = body.strip()
    if not body:
        raise ActionError("the note is empty")
    if len(body) > MAX_TEXT:
        raise ActionError(f"a note holds at most {MAX_TEXT} characters")
    with store.begin() as conn:
        row = conn.execute(sa.select(q).where(q.c.item_id == item_id, q.c.agency_id == user.agency_id)).first()
        if row is None:
            raise NotFound(f"no item {item_id!r} in agency {user.agency_id}")
        seeker_id = row._mapping["seeker_id"]
        conn.execute(
            sa.insert(notes).values(
                seeker_id=seeker_id,
                item_id=item_id,
                agency_id=user.agency_id,
                user_id=user.user_id,
                body=body,
                created_at=at,
            )
        )
        audit(conn, user, "note", at=at, item_id=item_id, seeker_id=seeker_id, length=len(body))


def _colleague(conn: Connection, agency_id: str, user_id: int) -> bool:
    found = conn.execute(
        sa.select(users.c.user_id).where(
            users.c.user_id == user_id, users.c.agency_id == agency_id, users.c.active.is_(True)
        )
    ).first()
    return found is not None


def _conflict(conn: Connection, seen: dict[str, Any]) -> Conflict:
    """Who changed the item last, read in the same transaction."""
    now = conn.execute(sa.select(q).where(q.c.item_id == seen["item_id"])).first()
    current = dict(now._mapping) if now is not None else seen
    last = conn.execute(
        sa.select(audit_events.c.action, audit_events.c.at, users.c.display_name)
        .select_from(audit_events.join(users, users.c.user_id == audit_events.c.user_id, isouter=True))
        .where(audit_events.c.item_id == seen["item_id"], audit_events.c.action.not_in(VIEWS))
        .order_by(audit_events.c.event_id.desc())
        .limit(1)
    ).first()
    if last is None or last.at != current["updated_at"]:
        # the system moved it since (a screening answer arrived, the SMS path re-queued it)
        return Conflict(None, None, current["updated_at"])
    return Conflict(last.display_name, last.action, last.at)
