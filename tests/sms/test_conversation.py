"""The SMS conversation: OUI / NON, clarification, screening, opt-out and replays, on the operational store."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.opstore import OpStore
from connectors.optables import conversations, inbound_messages, offer_key, screening_answers, sms_outbox
from tests.support.outbox import MONDAY_10H_PARIS, kinds, outbox_row, queue_items, statuses
from tremplin.settings import Settings
from tremplin.sms import text as sms_text
from tremplin.sms.conversation import Inbound, handle_inbound

PHONE = "+33639980001"
_sids = (f"SM{n:032x}" for n in itertools.count(1))


@pytest.fixture
def settings(tmp_path: Path, opstore_url: str) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, home=tmp_path / "home", opstore_url=opstore_url)


@pytest.fixture
def store(settings: Settings) -> OpStore:
    return OpStore(settings.opstore)


def offer(store: OpStore, vacancy: str, *, ref: int, sent_at: datetime, status: str = "sent") -> str:
    key = offer_key(sent_at.date(), "S1", vacancy)
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
    at: datetime = MONDAY_10H_PARIS,
    sid: str | None = None,
    opt_out_type: str | None = None,
    phone: str = PHONE,
) -> str | None:
    message = Inbound(next(_sids) if sid is None else sid, phone, "+33700000000", body, opt_out_type)
    return handle_inbound(store, settings, message, now=at)


def state(store: OpStore, key: str) -> str | None:
    rows = {r["conversation_id"]: r["state"] for r in store.table_rows(conversations)}
    return rows.get(key)


# Replies written out by hand from the templates in tremplin/sms/text.py and the default screening questions
# (offer titles are "Boulanger <vacancy>"). The GSM-7 clean-up keeps é, è, à and turns ê into e ("arreter").
ASK_AVAILABILITY = "Pouvez-vous commencer dans les 15 jours ? Répondez OUI ou NON."
ASK_TRAVEL = "Pouvez-vous vous rendre sur le lieu de travail ? Répondez OUI ou NON."
ASK_HOURS = "Les horaires du poste vous conviennent-ils ? Répondez OUI ou NON."
INTERESTED_V1 = "Merci ! Un conseiller vous rappelle rapidement pour vous présenter à l'employeur (Boulanger V1)."
DECLINED = "C'est noté, merci. Nous continuerons à vous proposer d'autres offres."
CLARIFY_V1 = "Nous n'avons pas compris. L'offre Boulanger V1 vous intéresse-t-elle ? Répondez OUI ou NON."
TO_COUNSELLOR_V1 = "Merci. Un conseiller va vous contacter au sujet de l'offre Boulanger V1."
STOPPED = "Vous ne recevrez plus d'offres par SMS. Envoyez START pour les recevoir à nouveau."
STARTED = "C'est noté: vous recevrez à nouveau des offres par SMS. STOP pour arreter."
HELP = (
    "France Travail: nous vous envoyons des offres d'emploi proches de votre profil. "
    "Répondez OUI ou NON. STOP pour ne plus rien recevoir. Aide: 3949"
)
CLOSED_V1 = "Désolé, l'offre Boulanger V1 n'est plus disponible. Nous vous proposerons d'autres offres."


@pytest.mark.parametrize("yes", ["OUI", "oui", "Oui!", "oui.", "Oui merci", "  OUI  ", "oui 1", "ouii"])
def test_oui_puts_the_seeker_in_the_interested_queue_and_asks_the_first_question(
    store: OpStore, settings: Settings, yes: str
) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    answer = say(store, settings, yes, at=MONDAY_10H_PARIS + timedelta(minutes=19))
    assert answer == ASK_AVAILABILITY
    assert queue_items(store, by="item_id") == {key: ("interested", "replied_oui")}
    assert state(store, key) == "screening"
    (row,) = store.table_rows(sms_outbox)
    assert row["replied_at"].replace(tzinfo=UTC) == MONDAY_10H_PARIS + timedelta(minutes=19)


def test_screening_runs_one_question_at_a_time_and_stores_answers_and_times(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    replies = [say(store, settings, "OUI", at=MONDAY_10H_PARIS + timedelta(minutes=1))]
    for minute, body in ((2, "oui"), (5, "Non, j'ai pas de voiture"), (9, "NON")):
        replies.append(say(store, settings, body, at=MONDAY_10H_PARIS + timedelta(minutes=minute)))
    assert replies == [ASK_AVAILABILITY, ASK_TRAVEL, ASK_HOURS, INTERESTED_V1]
    answers = sorted(store.table_rows(screening_answers), key=lambda r: r["asked_at"])
    assert [(a["question_key"], a["answer_yes_no"]) for a in answers] == [
        ("availability", True),
        ("travel", None),  # free text is kept as written, for the counsellor to read
        ("hours", False),
    ]
    assert answers[1]["answer"] == "non j ai pas de voiture"
    assert [a["answered_at"].replace(tzinfo=UTC) - MONDAY_10H_PARIS for a in answers] == [
        timedelta(minutes=2),
        timedelta(minutes=5),
        timedelta(minutes=9),
    ]
    assert state(store, key) == "interested"
    assert queue_items(store, by="item_id") == {key: ("interested", "screened")}


@pytest.mark.parametrize("no", ["NON", "non merci", "Non.", "nan"])
def test_non_closes_the_offer_without_a_queue_item(store: OpStore, settings: Settings, no: str) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    assert say(store, settings, no) == DECLINED
    assert state(store, key) == "declined"
    assert queue_items(store, by="item_id") == {}


def test_an_unclear_answer_gets_one_clarification_then_a_counsellor(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    first = say(store, settings, "c'est où exactement ?")
    assert first == CLARIFY_V1
    assert state(store, key) == "clarifying" and queue_items(store, by="item_id") == {}
    second = say(store, settings, "je sais pas trop")
    assert second == TO_COUNSELLOR_V1
    assert queue_items(store, by="item_id") == {key: ("flagged", "unclear_reply")}
    assert state(store, key) == "to_counsellor"


def test_clarification_then_oui_starts_the_screening(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    say(store, settings, "hein ?")
    assert state(store, key) == "clarifying"
    assert say(store, settings, "Oui") == ASK_AVAILABILITY
    assert state(store, key) == "screening"
    assert queue_items(store, by="item_id") == {key: ("interested", "replied_oui")}


def test_a_reply_quoting_an_old_offer_goes_to_that_offer(store: OpStore, settings: Settings) -> None:
    old = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    new = offer(store, "V2", ref=2, sent_at=MONDAY_10H_PARIS + timedelta(days=2))
    say(store, settings, "OUI 1", at=MONDAY_10H_PARIS + timedelta(days=2, hours=1))
    assert state(store, old) == "screening" and state(store, new) is None
    # without a reference, an answer goes to the screening under way...
    say(store, settings, "oui", at=MONDAY_10H_PARIS + timedelta(days=2, hours=2))
    answered = [r for r in store.table_rows(screening_answers) if r["answered_at"] is not None]
    assert [r["conversation_id"] for r in answered] == [old]
    # ...and "NON 2" answers the new one
    say(store, settings, "non 2", at=MONDAY_10H_PARIS + timedelta(days=2, hours=3))
    assert state(store, new) == "declined" and state(store, old) == "screening"


def test_without_a_reference_the_newest_unanswered_offer_is_meant(store: OpStore, settings: Settings) -> None:
    old = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    new = offer(store, "V2", ref=2, sent_at=MONDAY_10H_PARIS + timedelta(days=2))
    say(store, settings, "NON", at=MONDAY_10H_PARIS + timedelta(days=2, hours=1))
    assert state(store, new) == "declined" and state(store, old) is None
    say(store, settings, "NON", at=MONDAY_10H_PARIS + timedelta(days=2, hours=2))  # the next one back
    assert state(store, old) == "declined"


@pytest.mark.parametrize("stop", ["STOP", "stop", "Arret", "ARRÊT", "arrêt", "STOP SMS", "désabonner", "Stop!"])
def test_stop_suppresses_at_once_until_start(store: OpStore, settings: Settings, stop: str) -> None:
    sent = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    say(store, settings, "OUI")
    waiting = offer(store, "V2", ref=2, sent_at=MONDAY_10H_PARIS + timedelta(days=1), status="queued")
    assert say(store, settings, stop) == STOPPED
    assert store.suppressed_numbers().to_list() == [PHONE]
    assert statuses(store, by="message_id", extra="status_reason")[waiting] == ("dropped", "opted_out")
    assert state(store, sent) == "opted_out"
    assert say(store, settings, "START") == STARTED
    assert store.suppressed_numbers().to_list() == []


def test_twilio_advanced_opt_out_is_honoured_and_twilio_answers(store: OpStore, settings: Settings) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    assert say(store, settings, "Arrêtez svp", opt_out_type="STOP") is None
    assert kinds(store) == {PHONE: "opt_out"}
    assert say(store, settings, "Start", opt_out_type="START") is None
    assert kinds(store) == {}


@pytest.mark.parametrize("help_word", ["HELP", "aide", "AIDE svp"])
def test_help_and_aide_get_the_help_text(store: OpStore, settings: Settings, help_word: str) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    assert say(store, settings, help_word) == HELP
    assert store.table_rows(conversations) == []


def test_a_replayed_message_sid_changes_nothing(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    say(store, settings, "OUI", sid="SMreplay0001")
    first = say(store, settings, "oui", sid="SMreplay0002", at=MONDAY_10H_PARIS + timedelta(minutes=3))
    before = (store.table_rows(screening_answers), store.table_rows(conversations), queue_items(store, by="item_id"))
    again = say(store, settings, "oui", sid="SMreplay0002", at=MONDAY_10H_PARIS + timedelta(minutes=4))
    assert again == first  # the same answer, in case Twilio retried because it lost ours
    assert (
        store.table_rows(screening_answers),
        store.table_rows(conversations),
        queue_items(store, by="item_id"),
    ) == before
    assert store.count(inbound_messages) == 2
    assert state(store, key) == "screening"


def test_a_message_from_an_unknown_number_is_kept_and_answered(store: OpStore, settings: Settings) -> None:
    assert say(store, settings, "OUI", phone="+33639989999") == (
        "Nous n'avons pas d'offre en cours pour ce numéro. Aide: 3949. STOP pour ne plus recevoir."
    )
    (row,) = store.table_rows(inbound_messages)
    assert row["intent"] == "yes" and row["conversation_id"] is None


def test_oui_for_a_closed_vacancy_says_so_and_queues_nothing(store: OpStore, settings: Settings) -> None:
    key = offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    store.close_vacancy("V1", closed_on=date(2026, 11, 23), reason="filled", source="test", now=MONDAY_10H_PARIS)
    assert say(store, settings, "OUI") == CLOSED_V1
    assert queue_items(store, by="item_id") == {} and state(store, key) == "vacancy_closed"


def test_replies_are_single_gsm7_texts_and_stored_as_answered(store: OpStore, settings: Settings) -> None:
    offer(store, "V1", ref=1, sent_at=MONDAY_10H_PARIS)
    bodies = ("hein", "OUI", "oui", "oui", "oui", "AIDE", "STOP")
    answers = {f"SMtext{i}": say(store, settings, body, sid=f"SMtext{i}") for i, body in enumerate(bodies)}
    assert list(answers.values()) == [CLARIFY_V1, ASK_AVAILABILITY, ASK_TRAVEL, ASK_HOURS, INTERESTED_V1, HELP, STOPPED]
    assert all(sms_text.encoding(t) == "GSM-7" and sms_text.segments(t) <= 2 for t in answers.values() if t)
    stored = {r["message_sid"]: r["reply_body"] for r in store.table_rows(inbound_messages)}
    assert stored == answers
