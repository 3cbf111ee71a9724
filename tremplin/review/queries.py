"""What the counsellor pages read. Every query takes the reader's agency and filters on it in SQL, so an
item, a seeker or a vacancy of another agency is simply not found (the pages answer 404)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import (
    ACTIVE_STATUSES,
    HIRED,
    INTERESTED,
    ITEM_STATUSES,
    NOT_INTERESTED,
    OPEN,
    PUT_FORWARD,
    QUEUES,
    STATE_INTERESTED,
    WRONG_MATCH,
    audit_events,
    conversations,
    counsellor_queue,
    inbound_messages,
    notes,
    published_runs,
    screening_answers,
    seekers,
    sms_outbox,
    users,
    vacancies,
)
from tremplin.review.actions import VIEWS

PAGE_SIZE = 50
SORTS = ("score", "date", "commune", "vacancy")
SHOWS = ("active", "closed", "all")

q = counsellor_queue


@dataclass(frozen=True)
class QueueFilter:
    """What a counsellor narrows a queue to; every field is optional."""

    vacancy: str = ""  # vacancy id, or words of its title
    commune: str = ""  # the seeker's commune: INSEE code or the start of its name
    since: date | None = None  # night of the match, from
    until: date | None = None  # to (inclusive)
    show: str = "active"  # active | closed | all
    mine: bool = False  # only items assigned to me
    sort: str = "score"  # score | date | commune | vacancy
    page: int = 1


@dataclass
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)  # active items per queue, for the tabs


def _answered_oui() -> Any:
    """When the seeker answered OUI (first "yes" of the item's SMS conversation)."""
    return (
        sa.select(sa.func.min(inbound_messages.c.received_at))
        .where(inbound_messages.c.conversation_id == q.c.conversation_id, inbound_messages.c.intent == "yes")
        .scalar_subquery()
    )


def queue_page(store: OpStore, agency_id: str, queue: str, f: QueueFilter, *, user_id: int | None = None) -> QueuePage:
    """One page of an agency's queue, filtered and sorted, with the active count of each queue.

    The count and the page's 50 ids read only the tables a filter or the sort needs (SQLite does not drop
    an unused LEFT JOIN by itself), mostly from ``ix_queue_page``; then those 50 rows are read in full."""
    sort = f.sort if f.sort in SORTS else "score"
    vacancy_text, commune_text = f.vacancy.strip(), f.commune.strip()
    where = [q.c.agency_id == agency_id, q.c.queue == queue]
    if f.show == "active":
        where.append(q.c.status.in_(ACTIVE_STATUSES))
    elif f.show == "closed":
        where.append(q.c.status.not_in(ACTIVE_STATUSES))
    if vacancy_text:
        like = f"%{_like(vacancy_text)}%"
        where.append(sa.or_(q.c.vacancy_id == vacancy_text, vacancies.c.title.ilike(like, escape="\\")))
    if commune_text:
        like = f"{_like(commune_text)}%"
        where.append(sa.or_(seekers.c.commune == commune_text, seekers.c.commune_name.ilike(like, escape="\\")))
    if f.since:
        where.append(q.c.run_date >= f.since)
    if f.until:
        where.append(q.c.run_date <= f.until)
    if f.mine and user_id is not None:
        where.append(q.c.assigned_to == user_id)
    order = {
        "score": [q.c.score.desc(), q.c.item_id],
        "date": [q.c.run_date.desc(), q.c.score.desc(), q.c.item_id],
        "commune": [seekers.c.commune_name, q.c.score.desc(), q.c.item_id],
        "vacancy": [vacancies.c.title, q.c.score.desc(), q.c.item_id],
    }[sort]
    narrow: Any = q
    if commune_text or sort == "commune":
        narrow = narrow.join(seekers, seekers.c.seeker_id == q.c.seeker_id, isouter=True)
    if vacancy_text or sort == "vacancy":
        narrow = narrow.join(vacancies, vacancies.c.vacancy_id == q.c.vacancy_id, isouter=True)
    assignee = users.alias("assignee")
    full = (
        q.join(seekers, seekers.c.seeker_id == q.c.seeker_id, isouter=True)
        .join(vacancies, vacancies.c.vacancy_id == q.c.vacancy_id, isouter=True)
        .join(assignee, assignee.c.user_id == q.c.assigned_to, isouter=True)
    )
    with store.begin() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(narrow).where(*where)).scalar_one())
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(1, f.page), pages)
        ids = list(
            conn.execute(
                sa.select(q.c.item_id)
                .select_from(narrow)
                .where(*where)
                .order_by(*order)
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            ).scalars()
        )
        rows = (
            conn.execute(
                sa.select(
                    q.c.item_id,
                    q.c.run_date,
                    q.c.seeker_id,
                    q.c.vacancy_id,
                    q.c.queue,
                    q.c.reason,
                    q.c.score,
                    q.c.status,
                    q.c.outcome,
                    q.c.explanation,
                    q.c.created_at,
                    q.c.updated_at,
                    seekers.c.commune_name,
                    vacancies.c.title,
                    vacancies.c.commune_name.label("vacancy_commune_name"),
                    assignee.c.display_name.label("assignee"),
                )
                .select_from(full)
                .where(q.c.item_id.in_(ids))
            ).all()
            if ids
            else []
        )
        position = {item_id: i for i, item_id in enumerate(ids)}
        items = sorted((dict(r._mapping) for r in rows), key=lambda r: position[r["item_id"]])
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(q.c.queue, sa.func.count())
                .where(q.c.agency_id == agency_id, q.c.status.in_(ACTIVE_STATUSES))
                .group_by(q.c.queue)
            ).all()
        )
        if queue == INTERESTED and items:
            answered: dict[str, Any] = dict(
                conn.execute(sa.select(q.c.item_id, _answered_oui()).where(q.c.item_id.in_(ids))).all()
            )
            for r in items:
                r["answered_at"] = answered.get(r["item_id"])
    return QueuePage(items, total, page, pages, {name: int(counts.get(name, 0)) for name in QUEUES})


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def item(store: OpStore, agency_id: str, item_id: str) -> dict[str, Any] | None:
    """One item of the agency with its seeker, vacancy, screening answers, notes and history; None if the
    item does not exist or belongs to another agency."""
    with store.begin() as conn:
        row = conn.execute(sa.select(q).where(q.c.item_id == item_id, q.c.agency_id == agency_id)).first()
        if row is None:
            return None
        found = dict(row._mapping)
        found["seeker"] = _one(conn, sa.select(seekers).where(seekers.c.seeker_id == found["seeker_id"]))
        found["vacancy"] = _one(conn, sa.select(vacancies).where(vacancies.c.vacancy_id == found["vacancy_id"]))
        found["screening"] = _screening(conn, found["conversation_id"])
        found["answered_at"] = (
            conn.execute(sa.select(_answered_oui()).select_from(q).where(q.c.item_id == item_id)).scalar()
            if found["conversation_id"]
            else None
        )
        found["notes"] = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(notes, users.c.display_name)
                .select_from(notes.join(users, users.c.user_id == notes.c.user_id))
                .where(notes.c.seeker_id == found["seeker_id"], notes.c.agency_id == agency_id)
                .order_by(notes.c.created_at.desc(), notes.c.note_id.desc())
            )
        ]
        found["history"] = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(audit_events, users.c.display_name)
                .select_from(audit_events.join(users, users.c.user_id == audit_events.c.user_id, isouter=True))
                .where(audit_events.c.item_id == item_id, audit_events.c.action.not_in(VIEWS))
                .order_by(audit_events.c.event_id.desc())
            )
        ]
        found["assignee"] = (
            conn.execute(sa.select(users.c.display_name).where(users.c.user_id == found["assigned_to"])).scalar()
            if found["assigned_to"] is not None
            else None
        )
    return found


def _one(conn: sa.Connection, query: Any) -> dict[str, Any] | None:
    row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def _screening(conn: sa.Connection, conversation_id: str | None) -> list[dict[str, Any]]:
    if not conversation_id:
        return []
    return [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(screening_answers)
            .where(screening_answers.c.conversation_id == conversation_id)
            .order_by(screening_answers.c.asked_at, screening_answers.c.question_key)
        )
    ]


def colleagues(store: OpStore, agency_id: str) -> list[dict[str, Any]]:
    """The agency's active accounts, for reassigning an item."""
    with store.begin() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(users.c.user_id, users.c.display_name)
                .where(users.c.agency_id == agency_id, users.c.active.is_(True))
                .order_by(users.c.display_name)
            )
        ]


def shortlist(store: OpStore, agency_id: str, vacancy_id: str, *, per_position: int) -> dict[str, Any] | None:
    """A vacancy's short list for the employer: the agency's seekers who said OUI, screened ones first,
    then by score, at most ``per_position`` (the ``shortlist_per_position`` setting) times its positions;
    None when the agency has no item on this vacancy."""
    with store.begin() as conn:
        vacancy = _one(conn, sa.select(vacancies).where(vacancies.c.vacancy_id == vacancy_id))
        mine = conn.execute(
            sa.select(sa.func.count()).where(q.c.vacancy_id == vacancy_id, q.c.agency_id == agency_id)
        ).scalar_one()
        if vacancy is None or not mine:
            return None
        screened = sa.case((conversations.c.state == STATE_INTERESTED, 0), else_=1)
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    q.c.item_id,
                    q.c.seeker_id,
                    q.c.score,
                    q.c.status,
                    q.c.explanation,
                    q.c.conversation_id,
                    conversations.c.state.label("conversation_state"),
                    seekers.c.phone,
                    seekers.c.commune_name,
                    _answered_oui().label("answered_at"),
                )
                .select_from(
                    q.join(conversations, conversations.c.conversation_id == q.c.conversation_id).join(
                        seekers, seekers.c.seeker_id == q.c.seeker_id, isouter=True
                    )
                )
                .where(
                    q.c.vacancy_id == vacancy_id,
                    q.c.agency_id == agency_id,
                    q.c.queue == INTERESTED,
                    q.c.status.in_([*ACTIVE_STATUSES, HIRED]),
                )
                .order_by(screened, q.c.score.desc(), q.c.item_id)
            )
        ]
        cap = per_position * max(1, int(vacancy["positions"] or 1))
        candidates = rows[:cap]
        for r in candidates:
            r["screening"] = _screening(conn, r["conversation_id"])
            r["screened"] = r["conversation_state"] == STATE_INTERESTED
    return {"vacancy": vacancy, "candidates": candidates, "beyond_cap": len(rows) - len(candidates), "cap": cap}


def seeker_record(store: OpStore, agency_id: str, seeker_id: str) -> dict[str, Any] | None:
    """ "Why these offers": the data used, the weights of each night and every offer made, by either channel;
    None if the seeker is not one of the agency's."""
    with store.begin() as conn:
        seeker = _one(
            conn, sa.select(seekers).where(seekers.c.seeker_id == seeker_id, seekers.c.agency_id == agency_id)
        )
        if seeker is None:
            return None
        offers = [
            dict(r._mapping, channel="sms")
            for r in conn.execute(
                sa.select(
                    sms_outbox.c.run_date,
                    sms_outbox.c.vacancy_id,
                    sms_outbox.c.score,
                    sms_outbox.c.explanation,
                    sms_outbox.c.status,
                    sms_outbox.c.status_reason.label("reason"),
                ).where(sms_outbox.c.seeker_id == seeker_id)
            )
        ]
        texted = {o["vacancy_id"] for o in offers}
        offers += [  # offers made through a counsellor (an SMS offer that reached one is listed once, above)
            dict(r._mapping, channel="counsellor")
            for r in conn.execute(
                sa.select(q.c.run_date, q.c.vacancy_id, q.c.score, q.c.explanation, q.c.status, q.c.reason).where(
                    q.c.seeker_id == seeker_id
                )
            )
            if r.vacancy_id not in texted
        ]
        offers.sort(key=lambda o: (o["run_date"], o["score"]), reverse=True)
        nights = sorted({o["run_date"] for o in offers}, reverse=True)
        weights = {
            r.run_date: r.weights
            for r in conn.execute(sa.select(published_runs).where(published_runs.c.run_date.in_(nights)))
        }
        titles = dict(
            conn.execute(
                sa.select(vacancies.c.vacancy_id, vacancies.c.title).where(
                    vacancies.c.vacancy_id.in_({o["vacancy_id"] for o in offers})
                )
            ).all()
        )
    for o in offers:
        o["title"] = titles.get(o["vacancy_id"]) or (o["explanation"] or {}).get("title", o["vacancy_id"])
    return {"seeker": seeker, "offers": offers, "weights": weights}


def agency_figures(store: OpStore, agency_id: str, *, now: datetime) -> dict[str, Any]:
    """A supervisor's view: backlog by queue and status, age of the oldest open items, each counsellor's
    actions over 7 days, and how often counsellors overrule the system (wrong match)."""
    week = now - timedelta(days=7)
    with store.begin() as conn:
        by_status = conn.execute(
            sa.select(q.c.queue, q.c.status, sa.func.count())
            .where(q.c.agency_id == agency_id)
            .group_by(q.c.queue, q.c.status)
        ).all()
        oldest = dict(
            conn.execute(
                sa.select(q.c.queue, sa.func.min(q.c.created_at))
                .where(q.c.agency_id == agency_id, q.c.status == OPEN)
                .group_by(q.c.queue)
            ).all()
        )
        actions = conn.execute(
            sa.select(users.c.display_name, audit_events.c.action, sa.func.count())
            .select_from(audit_events.join(users, users.c.user_id == audit_events.c.user_id))
            .where(
                audit_events.c.agency_id == agency_id,
                audit_events.c.at >= week,
                audit_events.c.action.not_in(VIEWS),
            )
            .group_by(users.c.display_name, audit_events.c.action)
        ).all()
    table: dict[str, dict[str, int]] = {name: dict.fromkeys(ITEM_STATUSES, 0) for name in QUEUES}
    for queue, status, n in by_status:
        table.setdefault(queue, dict.fromkeys(ITEM_STATUSES, 0))[status] = int(n)
    per_counsellor: dict[str, dict[str, int]] = {}
    for name, action, n in actions:
        per_counsellor.setdefault(name, {})[action] = int(n)
    decided = sum(table[qu][s] for qu in table for s in (PUT_FORWARD, HIRED, NOT_INTERESTED, WRONG_MATCH))
    wrong = sum(table[qu][WRONG_MATCH] for qu in table)
    return {
        "by_queue": table,
        "oldest_open": oldest,
        "per_counsellor": per_counsellor,
        "decided": decided,
        "wrong_match": wrong,
        "override_rate": wrong / decided if decided else None,
    }
