"""The operational store's tables (SQLAlchemy Core), one place for the schema.

Statuses of an outbound SMS: queued -> sending (recorded before the provider is called) -> sent ->
delivered | undelivered | failed, or dropped (with a reason) before it was sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A point in time, always stored in UTC.

    SQLite keeps no time zone: it would write an aware Paris time as its wall-clock digits. So every aware
    value is moved to UTC before it is written (a naive one is taken as UTC already); SQLite gives back
    naive UTC, PostgreSQL (timestamptz) aware values.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value


QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, DROPPED = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "dropped",
)
# How far along a message is: a status callback never moves a message back.
STATUS_RANK = {QUEUED: 0, SENDING: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 3, FAILED: 3, DROPPED: 3}

# suppression kinds: the seeker asked to stop (until START), or the provider says the number cannot get SMS
OPT_OUT, UNDELIVERABLE = "opt_out", "undeliverable"

# counsellor queues: call a low-digital seeker about a match; call back a seeker who said OUI; flagged by a
# rule (an unclear reply) or by a colleague
TO_CALL, INTERESTED, FLAGGED = "to_call", "interested", "flagged"
QUEUES = (TO_CALL, INTERESTED, FLAGGED)
# item statuses: open -> contacted (outcome kept) -> put_forward -> hired, or closed as not_interested /
# wrong_match. Only a counsellor moves an item past open.
OPEN, CONTACTED, PUT_FORWARD, HIRED, NOT_INTERESTED, WRONG_MATCH = (
    "open",
    "contacted",
    "put_forward",
    "hired",
    "not_interested",
    "wrong_match",
)
ITEM_STATUSES = (OPEN, CONTACTED, PUT_FORWARD, HIRED, NOT_INTERESTED, WRONG_MATCH)
ACTIVE_STATUSES = (OPEN, CONTACTED, PUT_FORWARD)  # still in a counsellor's hands
# counsellor roles: a supervisor also sees the agency's figures
COUNSELLOR, SUPERVISOR = "counsellor", "supervisor"

# states of the SMS conversation about one offer (no row yet: the offer waits for an answer)
STATE_CLARIFYING, STATE_SCREENING, STATE_INTERESTED = "clarifying", "screening", "interested"
STATE_DECLINED, STATE_TO_COUNSELLOR, STATE_OPTED_OUT, STATE_VACANCY_CLOSED = (
    "declined",
    "to_counsellor",
    "opted_out",
    "vacancy_closed",
)
OPEN_STATES = (STATE_CLARIFYING, STATE_SCREENING)  # the conversation still expects an answer
SAID_YES = (STATE_SCREENING, STATE_INTERESTED)  # the seeker answered OUI

sms_outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("message_id", sa.String(120), primary_key=True),  # run_date:seeker:vacancy, the idempotency key
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("seeker_id", sa.String(64), nullable=False, index=True),
    sa.Column("vacancy_id", sa.String(64), nullable=False),
    sa.Column("agency_id", sa.String(64), nullable=False),
    sa.Column("to_number", sa.String(20), nullable=False, index=True),
    sa.Column("reply_ref", sa.Integer, nullable=False),  # "réf. 3" in the text: which offer a reply is about
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("segments", sa.Integer, nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),  # what a counsellor sees if the SMS path fails
    sa.Column("status", sa.String(16), nullable=False, default=QUEUED, index=True),
    sa.Column("status_reason", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("not_before", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sending_at", UtcDateTime()),
    sa.Column("sent_at", UtcDateTime()),
    sa.Column("status_at", UtcDateTime()),
    sa.Column("replied_at", UtcDateTime()),
    sa.Column("provider_sid", sa.String(64), unique=True),
    sa.Column("error_code", sa.Integer),
    # never the same vacancy twice to a seeker, whatever the night
    sa.UniqueConstraint("seeker_id", "vacancy_id", name="uq_outbox_seeker_vacancy"),
)

sms_status_events = sa.Table(
    "sms_status_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_sid", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.Integer),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    # a replayed callback changes nothing
    sa.UniqueConstraint("message_sid", "status", name="uq_status_event"),
)

inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("message_sid", sa.String(64), primary_key=True),  # a replayed MessageSid changes nothing
    sa.Column("from_number", sa.String(20), nullable=False, index=True),
    sa.Column("to_number", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("intent", sa.String(16), nullable=False),
    sa.Column("conversation_id", sa.String(120), index=True),
    sa.Column("reply_body", sa.Text),  # what was answered (TwiML), sent again if Twilio retries
    sa.Column("opt_out_type", sa.String(16)),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("conversation_id", sa.String(120), primary_key=True),  # the offer's message_id
    sa.Column("seeker_id", sa.String(64), nullable=False, index=True),
    sa.Column("vacancy_id", sa.String(64), nullable=False),
    sa.Column("phone", sa.String(20), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False, default=0),  # index of the screening question asked
    sa.Column("opened_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

screening_answers = sa.Table(
    "screening_answers",
    metadata,
    sa.Column("conversation_id", sa.String(120), primary_key=True),
    sa.Column("question_key", sa.String(32), primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text),
    sa.Column("answer_yes_no", sa.Boolean),  # OUI / NON when the answer says so, else null
    sa.Column("asked_at", UtcDateTime(), nullable=False),
    sa.Column("answered_at", UtcDateTime()),
)

counsellor_queue = sa.Table(
    "counsellor_queue",
    metadata,
    sa.Column("item_id", sa.String(120), primary_key=True),
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("agency_id", sa.String(64), nullable=False, index=True),
    sa.Column("seeker_id", sa.String(64), nullable=False, index=True),
    sa.Column("vacancy_id", sa.String(64), nullable=False),
    sa.Column("queue", sa.String(16), nullable=False),  # to_call | interested | flagged
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default=OPEN),
    sa.Column("conversation_id", sa.String(120)),  # for "interested" items: the SMS conversation
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime()),
    sa.Column("contacted_at", UtcDateTime()),  # a counsellor reached the seeker
    sa.Column("outcome", sa.String(32)),  # of the last contact: reached, no_answer, voicemail, wrong_number
    sa.Column("decision_reason", sa.Text),  # why not interested, why a wrong match, why flagged
    sa.Column("decided_at", UtcDateTime()),  # put forward, hired, not interested, wrong match
    sa.Column("assigned_to", sa.Integer),  # users.user_id of the counsellor working it (same agency)
    sa.Column("updated_by", sa.Integer),
    # optimistic concurrency: an action names the version it saw; a second one on that version is refused
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.UniqueConstraint("seeker_id", "vacancy_id", name="uq_queue_seeker_vacancy"),
    # a queue page's count and ids read this index alone (the rows come after, 50 at a time)
    sa.Index(
        "ix_queue_page", "agency_id", "queue", "status", "score", "item_id", "run_date", "seeker_id", "vacancy_id"
    ),
)


def offer_key(run_date: date, seeker_id: str, vacancy_id: str) -> str:
    """The key of one offer: its SMS's ``message_id``, its counsellor item's ``item_id`` and its conversation's id.

    Publishing the same night twice gives the same keys, so it adds nothing.

    >>> offer_key(date(2026, 11, 23), "S1", "V1")
    '2026-11-23:S1:V1'
    """
    return f"{run_date.isoformat()}:{seeker_id}:{vacancy_id}"


def queue_item(
    *,
    item_id: str,
    run_date: date,
    agency_id: str,
    seeker_id: str,
    vacancy_id: str,
    queue: str,
    reason: str,
    score: float,
    explanation: Any,
    created_at: datetime,
    updated_at: datetime | None = None,
    conversation_id: str | None = None,
) -> dict[str, Any]:
    """A new counsellor queue row, open and at version 1 (every column named, as an executemany needs)."""
    return {
        "item_id": item_id,
        "run_date": run_date,
        "agency_id": agency_id,
        "seeker_id": seeker_id,
        "vacancy_id": vacancy_id,
        "queue": queue,
        "reason": reason,
        "score": score,
        "explanation": explanation,
        "status": OPEN,
        "conversation_id": conversation_id,
        "created_at": created_at,
        "updated_at": updated_at,
        "version": 1,
    }


suppression = sa.Table(
    "suppression",
    metadata,
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False, default=OPT_OUT),  # opt_out | undeliverable
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

vacancy_closures = sa.Table(
    "vacancy_closures",
    metadata,
    sa.Column("vacancy_id", sa.String(64), primary_key=True),
    sa.Column("closed_on", sa.Date, nullable=False),  # offers of this vacancy are dropped from this day
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# --- what the counsellor pages need, published each night (the web app never opens the warehouse) ---

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("agency_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

seekers = sa.Table(
    "seekers",
    metadata,
    sa.Column("seeker_id", sa.String(64), primary_key=True),
    sa.Column("agency_id", sa.String(64), nullable=False, index=True),
    sa.Column("phone", sa.String(20)),  # contact details: every view is an audit event
    sa.Column("commune", sa.String(8), nullable=False),
    sa.Column("commune_name", sa.String(200), nullable=False),
    # the data the matching used (no protected attribute): occupations, skills, constraints, channel
    sa.Column("profile", sa.JSON, nullable=False),
    sa.Column("run_date", sa.Date, nullable=False),  # the night this copy was published
)

vacancies = sa.Table(
    "vacancies",
    metadata,
    sa.Column("vacancy_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("rome_code", sa.String(8)),
    sa.Column("commune", sa.String(8), nullable=False),
    sa.Column("commune_name", sa.String(200), nullable=False),
    sa.Column("contract_type", sa.String(8)),
    sa.Column("working_time", sa.String(16)),
    sa.Column("positions", sa.Integer, nullable=False, default=1),
    sa.Column("source", sa.String(32)),
    sa.Column("run_date", sa.Date, nullable=False),
)

published_runs = sa.Table(
    "published_runs",
    metadata,
    sa.Column("run_date", sa.Date, primary_key=True),
    sa.Column("weights", sa.JSON, nullable=False),  # the weights and thresholds applied that night
    sa.Column("published_at", UtcDateTime(), nullable=False),
)

# --- people and what they did ------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(120), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("agency_id", sa.String(64), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False, default=COUNSELLOR),
    sa.Column("password_hash", sa.String(200)),  # argon2id; null for accounts that sign in through SSO
    # "local" (password) today; the service's single sign-on maps its subject to external_id
    sa.Column("auth_provider", sa.String(32), nullable=False, default="local"),
    sa.Column("external_id", sa.String(200)),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie: a stolen table opens nothing
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

# append-only (the store refuses UPDATE and DELETE on it): every view of contact details, every action
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("user_id", sa.Integer),
    sa.Column("agency_id", sa.String(64), index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("item_id", sa.String(120), index=True),
    sa.Column("seeker_id", sa.String(64), index=True),
    sa.Column("vacancy_id", sa.String(64)),
    sa.Column("details", sa.JSON, nullable=False),
)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("note_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seeker_id", sa.String(64), nullable=False, index=True),
    sa.Column("item_id", sa.String(120)),
    sa.Column("agency_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

APPEND_ONLY = (audit_events, notes)
