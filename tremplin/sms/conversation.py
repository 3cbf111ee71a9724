"""The SMS conversation after an offer, Match FT style: OUI or NON, then a few screening questions.

One inbound message is handled in one transaction, keyed by its MessageSid, so a replayed webhook
changes nothing and gets the same answer back. What the seeker wrote decides:

- STOP (and the like) suppresses the number at once, drops what is still queued for it, closes its
  conversations; START lifts it; HELP / AIDE gets the help text. These win in any state.
- Otherwise the message belongs to one offer: the one whose reference it quotes ("OUI 2"), else the one
  whose screening is under way, else the newest offer not yet answered.
- OUI puts the seeker in the agency's "interested" queue at once and starts the screening questions
  (one at a time, answers and times stored); NON closes the offer (never exported as a refusal); any
  other text gets one clarifying question, and a second unclear answer puts the offer in the agency's
  "flagged" queue for a counsellor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.opstore import OpStore
from connectors.optables import (
    DELIVERED,
    FLAGGED,
    INTERESTED,
    OPEN_STATES,
    SENT,
    STATE_CLARIFYING,
    STATE_DECLINED,
    STATE_INTERESTED,
    STATE_OPTED_OUT,
    STATE_SCREENING,
    STATE_TO_COUNSELLOR,
    STATE_VACANCY_CLOSED,
    UNDELIVERED,
    conversations,
    counsellor_queue,
    inbound_messages,
    screening_answers,
    sms_outbox,
)
from tremplin.settings import Settings
from tremplin.sms import text as sms_text
from tremplin.sms.replies import Intent, Reply, classify

ALREADY_TEXT = "Votre réponse sur l'offre {title} est déjà enregistrée, merci. Aide: 3949."
CLOSED_TEXT = "Désolé, l'offre {title} n'est plus disponible. Nous vous proposerons d'autres offres."

# Twilio's Advanced Opt-Out sends OptOutType and answers the seeker itself: we record, and stay silent.
_OPT_OUT_TYPES = {"STOP": Intent.STOP, "START": Intent.START, "HELP": Intent.HELP}


@dataclass(frozen=True)
class Inbound:
    """One inbound SMS as Twilio posts it."""

    message_sid: str
    from_number: str
    to_number: str
    body: str
    opt_out_type: str | None = None


def handle_inbound(store: OpStore, settings: Settings, message: Inbound, *, now: datetime) -> str | None:
    """Store the message, move its conversation on, and return the text to answer (None: say nothing)."""
    reply = classify(message.body)
    intent = _OPT_OUT_TYPES.get((message.opt_out_type or "").upper(), reply.intent)
    with store.begin() as conn:
        added = conn.execute(
            store.insert_ignore(inbound_messages).values(
                message_sid=message.message_sid,
                from_number=message.from_number,
                to_number=message.to_number,
                body=message.body,
                received_at=now,
                intent=str(intent),
                opt_out_type=message.opt_out_type,
            )
        ).rowcount
        if not added:  # a replay: answer what was answered the first time, change nothing
            stored = conn.execute(
                sa.select(inbound_messages.c.reply_body).where(inbound_messages.c.message_sid == message.message_sid)
            ).scalar_one_or_none()
            return stored
        conversation_id, answer = _respond(conn, store, settings, message, reply, intent, now)
        conn.execute(
            sa.update(inbound_messages)
            .where(inbound_messages.c.message_sid == message.message_sid)
            .values(conversation_id=conversation_id, reply_body=answer)
        )
    return answer


def _respond(
    conn: Connection,
    store: OpStore,
    settings: Settings,
    message: Inbound,
    reply: Reply,
    intent: Intent,
    now: datetime,
) -> tuple[str | None, str | None]:
    phone = message.from_number
    twilio_answers = message.opt_out_type is not None
    if intent is Intent.STOP:
        store.suppress(phone, reason="stop_keyword", source="sms", now=now, conn=conn)
        conn.execute(
            sa.update(conversations)
            .where(conversations.c.phone == phone, conversations.c.state.in_(OPEN_STATES))
            .values(state=STATE_OPTED_OUT, updated_at=now)
        )
        return None, None if twilio_answers else sms_text.reply_text(sms_text.STOPPED_TEXT)
    if intent is Intent.START:
        store.unsuppress(phone, conn=conn)
        return None, None if twilio_answers else sms_text.reply_text(sms_text.STARTED_TEXT)
    if intent is Intent.HELP:
        return None, None if twilio_answers else sms_text.reply_text(settings.sms_help_text or sms_text.HELP_TEXT)

    offer = _find_offer(conn, phone, reply.ref)
    if offer is None:
        return None, sms_text.reply_text(sms_text.NO_OFFER_TEXT)
    key = offer["message_id"]
    title = offer["explanation"].get("title", "") if isinstance(offer["explanation"], Mapping) else ""
    state = offer["state"]
    conn.execute(
        sa.update(sms_outbox)
        .where(sms_outbox.c.message_id == key, sms_outbox.c.replied_at.is_(None))
        .values(replied_at=now)
    )
    if state == STATE_SCREENING:
        return key, _screening_answer(conn, settings, offer, reply, intent, title, now)
    if state is not None and state != STATE_CLARIFYING and not (state == STATE_DECLINED and intent is Intent.YES):
        return key, sms_text.reply_text(ALREADY_TEXT, title=title)
    if intent is Intent.YES:
        return key, _interested(conn, store, settings, offer, title, now)
    if intent is Intent.NO:
        _set_state(conn, offer, STATE_DECLINED, now)
        return key, sms_text.reply_text(sms_text.DECLINED_TEXT)
    if state is None:
        _set_state(conn, offer, STATE_CLARIFYING, now)
        return key, sms_text.reply_text(sms_text.CLARIFY_TEXT, title=title)
    _set_state(conn, offer, STATE_TO_COUNSELLOR, now)
    store.queue_offer(offer, queue=FLAGGED, reason="unclear_reply", at=now, conversation_id=key, conn=conn)
    return key, sms_text.reply_text(sms_text.TO_COUNSELLOR_TEXT, title=title)


def _find_offer(conn: Connection, phone: str, ref: int | None) -> dict[str, Any] | None:
    """The offer a reply is about: quoted reference, else screening under way, else newest unanswered."""
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(sms_outbox, conversations.c.state, conversations.c.step, conversations.c.updated_at)
            .select_from(
                sms_outbox.outerjoin(conversations, conversations.c.conversation_id == sms_outbox.c.message_id)
            )
            .where(sms_outbox.c.to_number == phone, sms_outbox.c.status.in_([SENT, DELIVERED, UNDELIVERED]))
            .order_by(sms_outbox.c.sent_at.desc(), sms_outbox.c.message_id.desc())
        )
    ]
    if ref is not None:
        quoted = [r for r in rows if r["reply_ref"] == ref]
        if quoted:
            return quoted[0]
    screening = [r for r in rows if r["state"] == STATE_SCREENING]
    if screening:
        return max(screening, key=lambda r: r["updated_at"])
    waiting = [r for r in rows if r["state"] in (None, STATE_CLARIFYING)]
    return waiting[0] if waiting else None


def _set_state(conn: Connection, offer: Mapping[str, Any], state: str, now: datetime, step: int = 0) -> None:
    key = offer["message_id"]
    if offer["state"] is None:
        conn.execute(
            sa.insert(conversations).values(
                conversation_id=key,
                seeker_id=offer["seeker_id"],
                vacancy_id=offer["vacancy_id"],
                phone=offer["to_number"],
                state=state,
                step=step,
                opened_at=now,
                updated_at=now,
            )
        )
    else:
        conn.execute(
            sa.update(conversations)
            .where(conversations.c.conversation_id == key)
            .values(state=state, step=step, updated_at=now)
        )


def _interested(
    conn: Connection, store: OpStore, settings: Settings, offer: dict[str, Any], title: str, now: datetime
) -> str:
    today = now.astimezone(ZoneInfo(settings.timezone)).date()  # closing days are French calendar days
    if store.vacancy_closed(offer["vacancy_id"], today, conn=conn):
        _set_state(conn, offer, STATE_VACANCY_CLOSED, now)
        return sms_text.reply_text(CLOSED_TEXT, title=title)
    questions = settings.screening
    store.queue_offer(
        offer, queue=INTERESTED, reason="replied_oui", at=now, conversation_id=offer["message_id"], conn=conn
    )
    if not questions:
        _set_state(conn, offer, STATE_INTERESTED, now)
        return sms_text.reply_text(sms_text.INTERESTED_TEXT, title=title)
    _set_state(conn, offer, STATE_SCREENING, now, step=0)
    return _ask(conn, offer["message_id"], questions, 0, now)


def _ask(conn: Connection, key: str, questions: list[tuple[str, str]], step: int, now: datetime) -> str:
    question_key, question = questions[step]
    conn.execute(
        sa.delete(screening_answers).where(
            screening_answers.c.conversation_id == key, screening_answers.c.question_key == question_key
        )
    )
    conn.execute(
        sa.insert(screening_answers).values(
            conversation_id=key, question_key=question_key, question=question, asked_at=now
        )
    )
    return sms_text.reply_text(question)


def _screening_answer(
    conn: Connection,
    settings: Settings,
    offer: dict[str, Any],
    reply: Reply,
    intent: Intent,
    title: str,
    now: datetime,
) -> str:
    questions = settings.screening
    step = min(int(offer["step"] or 0), len(questions) - 1)
    key = offer["message_id"]
    yes_no = True if intent is Intent.YES else False if intent is Intent.NO else None
    conn.execute(
        sa.update(screening_answers)
        .where(screening_answers.c.conversation_id == key, screening_answers.c.question_key == questions[step][0])
        .values(answer=reply.text if yes_no is None else str(intent), answer_yes_no=yes_no, answered_at=now)
    )
    conn.execute(
        sa.update(counsellor_queue)
        .where(counsellor_queue.c.conversation_id == key)
        .values(updated_at=now, version=counsellor_queue.c.version + 1)
    )
    if step + 1 < len(questions):
        _set_state(conn, offer, STATE_SCREENING, now, step=step + 1)
        return _ask(conn, key, questions, step + 1, now)
    _set_state(conn, offer, STATE_INTERESTED, now, step=step + 1)
    conn.execute(
        sa.update(counsellor_queue)
        .where(counsellor_queue.c.conversation_id == key)
        .values(reason="screened", updated_at=now)
    )
    return sms_text.reply_text(sms_text.INTERESTED_TEXT, title=title)
