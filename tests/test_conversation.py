"""The SMS conversation: OUI / NON, clarification, screening, opt-out and replays, on the operational store."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import (
    conversations,
    counsellor_queue,
    inbound_messages,
    screening_answers,
    sms_outbox,
    suppression,
)
from tests.outbox import outbox_row
from tremplin import sms_text
from tremplin.conversation import Inbound, handle_inbound
from tremplin.settings import Settings

PHONE = "+33639980001"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_sids = (f"SM{n:032x}" for n in itertools.count(1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, home=tmp_path / "home")


@pytest.fixture
def store(settings: Settings) -> OpStore:
    return OpStore(settings.opstore)


def offer(store: OpStore, vacancy: str, *, ref: int, sent_at: datetime, status: str = "sent") -> str:
    key = f"{sent_at.date().isoformat()}:S1:{vacancy}"
    row = outbox_row(
        1,
        message_id=key,
        run_date=sent_at.date(),
        vacancy_id=vacancy,
        to_number=PHONE,
        reply_ref=ref,
        body=f"offre {vacancy} (réf. {ref})",
        score=0.7,
        explanation={"title": f"Boulanger {vacancy}"},
        status=status,
        attempts=1,
        not_before=sent_at,
        created_at=sent_at - timedelta(hours=9),
        sent_at=sent_at if status != "queued" else None,
        provider_sid=f"SMout{vacancy}" if status != "queued" else None,
    )
    store.insert_ignoring_duplicates(sms_outbox, [row])
    return key


def say(
    store: OpStore,
    settings: Settings,
    body: str,
    *,
    at: datetime = MONDAY,
    sid: str | None = None,
    opt_out_type: str | None = None,
    phone: str = PHONE,
) -> str | None:
    message = Inbound(next(_sids) if sid is None else sid, phone, "+33700000000", body, opt_out_type)
    return handle_inbound(store, settings, message, now=at)


def state(store: OpStore, key: str) -> str | None:
    rows = {r["conversation_id"]: r["state"] for r in store.table_rows(conversations)}
    return rows.get(key)


def queue(store: OpStore) -> dict[str, tuple[str, str]]:
    return {r["item_id"]: (r["queue"], r["reason"]) for r in store.table_rows(counsellor_queue)}


QUESTIONS = [q for _, q in Settings().screening]


@pytest.mark.parametrize("yes", ["OUI", "oui", "Oui!", "oui.", "Oui merci", "  OUI  ", "oui 1", "ouii"])
def test_oui_puts_the_seeker_in_the_interested_queue_and_asks_the_first_question(
    store: OpStore, settings: Settings, yes: str
) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    answer = say(store, settings, yes, at=MONDAY + timedelta(minutes=19))
    assert answer == sms_text.to_gsm7(QUESTIONS[0])
    assert queue(store) == {key: ("interested", "replied_oui")}
    assert state(store, key) == "screening"
    (row,) = store.table_rows(sms_outbox)
    assert row["replied_at"].replace(tzinfo=UTC) == MONDAY + timedelta(minutes=19)


def test_screening_runs_one_question_at_a_time_and_stores_answers_and_times(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    replies = [say(store, settings, "OUI", at=MONDAY + timedelta(minutes=1))]
    for minute, body in ((2, "oui"), (5, "Non, j'ai pas de voiture"), (9, "NON")):
        replies.append(say(store, settings, body, at=MONDAY + timedelta(minutes=minute)))
    assert replies[:3] == [sms_text.to_gsm7(q) for q in QUESTIONS]
    assert replies[3] == sms_text.reply_text(sms_text.INTERESTED_TEXT, title="Boulanger V1")
    answers = sorted(store.table_rows(screening_answers), key=lambda r: r["asked_at"])
    assert [(a["question_key"], a["answer_yes_no"]) for a in answers] == [
        ("availability", True),
        ("travel", None),  # free text is kept as written, for the counsellor to read
        ("hours", False),
    ]
    assert answers[1]["answer"] == "non j ai pas de voiture"
    assert [a["answered_at"].replace(tzinfo=UTC) - MONDAY for a in answers] == [
        timedelta(minutes=2),
        timedelta(minutes=5),
        timedelta(minutes=9),
    ]
    assert state(store, key) == "interested"
    assert queue(store) == {key: ("interested", "screened")}


@pytest.mark.parametrize("no", ["NON", "non merci", "Non.", "nan"])
def test_non_closes_the_offer_without_a_queue_item(store: OpStore, settings: Settings, no: str) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    assert say(store, settings, no) == sms_text.reply_text(sms_text.DECLINED_TEXT)
    assert state(store, key) == "declined"
    assert queue(store) == {}


def test_an_unclear_answer_gets_one_clarification_then_a_counsellor(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    first = say(store, settings, "c'est où exactement ?")
    assert first == sms_text.reply_text(sms_text.CLARIFY_TEXT, title="Boulanger V1")
    assert state(store, key) == "clarifying" and queue(store) == {}
    second = say(store, settings, "je sais pas trop")
    assert second == sms_text.reply_text(sms_text.TO_COUNSELLOR_TEXT, title="Boulanger V1")
    assert queue(store) == {key: ("to_call", "unclear_reply")}
    assert state(store, key) == "to_counsellor"


def test_clarification_then_oui_starts_the_screening(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    say(store, settings, "hein ?")
    assert state(store, key) == "clarifying"
    assert say(store, settings, "Oui") == sms_text.to_gsm7(QUESTIONS[0])
    assert state(store, key) == "screening"
    assert queue(store) == {key: ("interested", "replied_oui")}


def test_a_reply_quoting_an_old_offer_goes_to_that_offer(store: OpStore, settings: Settings) -> None:
    old = offer(store, "V1", ref=1, sent_at=MONDAY)
    new = offer(store, "V2", ref=2, sent_at=MONDAY + timedelta(days=2))
    say(store, settings, "OUI 1", at=MONDAY + timedelta(days=2, hours=1))
    assert state(store, old) == "screening" and state(store, new) is None
    # without a reference, an answer goes to the screening under way...
    say(store, settings, "oui", at=MONDAY + timedelta(days=2, hours=2))
    answered = [r for r in store.table_rows(screening_answers) if r["answered_at"] is not None]
    assert [r["conversation_id"] for r in answered] == [old]
    # ...and "NON 2" answers the new one
    say(store, settings, "non 2", at=MONDAY + timedelta(days=2, hours=3))
    assert state(store, new) == "declined" and state(store, old) == "screening"


def test_without_a_reference_the_newest_unanswered_offer_is_meant(store: OpStore, settings: Settings) -> None:
    old = offer(store, "V1", ref=1, sent_at=MONDAY)
    new = offer(store, "V2", ref=2, sent_at=MONDAY + timedelta(days=2))
    say(store, settings, "NON", at=MONDAY + timedelta(days=2, hours=1))
    assert state(store, new) == "declined" and state(store, old) is None
    say(store, settings, "NON", at=MONDAY + timedelta(days=2, hours=2))  # the next one back
    assert state(store, old) == "declined"


@pytest.mark.parametrize("stop", ["STOP", "stop", "Arret", "ARRÊT", "arrêt", "STOP SMS", "désabonner", "Stop!"])
def test_stop_suppresses_at_once_until_start(store: OpStore, settings: Settings, stop: str) -> None:
    sent = offer(store, "V1", ref=1, sent_at=MONDAY)
    say(store, settings, "OUI")
    waiting = offer(store, "V2", ref=2, sent_at=MONDAY + timedelta(days=1), status="queued")
    assert say(store, settings, stop) == sms_text.reply_text(sms_text.STOPPED_TEXT)
    assert store.suppressed_numbers().to_list() == [PHONE]
    rows = {r["message_id"]: (r["status"], r["status_reason"]) for r in store.table_rows(sms_outbox)}
    assert rows[waiting] == ("dropped", "opted_out")
    assert state(store, sent) == "opted_out"
    assert say(store, settings, "START") == sms_text.reply_text(sms_text.STARTED_TEXT)
    assert store.suppressed_numbers().to_list() == []


def test_twilio_advanced_opt_out_is_honoured_and_twilio_answers(store: OpStore, settings: Settings) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY)
    assert say(store, settings, "Arrêtez svp", opt_out_type="STOP") is None
    assert [r["kind"] for r in store.table_rows(suppression)] == ["opt_out"]
    assert say(store, settings, "Start", opt_out_type="START") is None
    assert store.table_rows(suppression) == []


@pytest.mark.parametrize("help_word", ["HELP", "aide", "AIDE svp"])
def test_help_and_aide_get_the_help_text(store: OpStore, settings: Settings, help_word: str) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY)
    assert say(store, settings, help_word) == sms_text.reply_text(sms_text.HELP_TEXT)
    assert store.table_rows(conversations) == []


def test_a_replayed_message_sid_changes_nothing(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    say(store, settings, "OUI", sid="SMreplay0001")
    first = say(store, settings, "oui", sid="SMreplay0002", at=MONDAY + timedelta(minutes=3))
    before = (store.table_rows(screening_answers), store.table_rows(conversations), queue(store))
    again = say(store, settings, "oui", sid="SMreplay0002", at=MONDAY + timedelta(minutes=4))
    assert again == first  # the same answer, in case Twilio retried because it lost ours
    assert (store.table_rows(screening_answers), store.table_rows(conversations), queue(store)) == before
    assert store.count(inbound_messages) == 2
    assert state(store, key) == "screening"


def test_a_message_from_an_unknown_number_is_kept_and_answered(store: OpStore, settings: Settings) -> None:
    assert say(store, settings, "OUI", phone="+33639989999") == sms_text.reply_text(sms_text.NO_OFFER_TEXT)
    (row,) = store.table_rows(inbound_messages)
    assert row["intent"] == "yes" and row["conversation_id"] is None


def test_oui_for_a_closed_vacancy_says_so_and_queues_nothing(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY)
    store.close_vacancy("V1", closed_on=date(2026, 11, 23), reason="filled", source="test", now=MONDAY)
    answer = say(store, settings, "OUI")
    assert answer is not None and "n'est plus disponible" in answer
    assert queue(store) == {} and state(store, key) == "vacancy_closed"


def test_replies_are_single_gsm7_texts(store: OpStore, settings: Settings) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY)
    texts = [say(store, settings, body) for body in ("hein", "OUI", "oui", "oui", "oui", "AIDE", "STOP")]
    assert all(t is not None and sms_text.encoding(t) == "GSM-7" and sms_text.segments(t) <= 2 for t in texts)
    with store.begin() as conn:
        stored = conn.execute(sa.select(inbound_messages.c.reply_body)).scalars().all()
    assert len(stored) == 7
