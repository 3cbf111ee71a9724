"""Dispatch through the official twilio client against a local fake Twilio API: sends, faults, window."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox
from connectors.sms import RecordingGateway, TwilioGateway, sid_for_key
from tests.support.outbox import MONDAY_10H_PARIS, kinds, outbox_row, queue_items, queue_messages, statuses
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.errors import ConfigError
from tremplin.settings import Settings
from tremplin.sms.dispatch import dispatch, record_status_callback


@pytest.fixture
def settings(tmp_path: Path, opstore_url: str) -> Settings:
    return Settings.from_env(
        {}, data_dir=tmp_path, home=tmp_path / "home", opstore_url=opstore_url, sms_rate_per_second=0.0
    )


def test_sends_through_twilio_and_records_the_sid(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002"])
    with FakeTwilio() as fake:
        gateway = fake.gateway()
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
        assert result["sent"] == 2
        assert [r["To"] for r in fake.requests] == ["+33639980001", "+33639980002"]
        assert {r["provider_sid"] for r in store.table_rows(sms_outbox)} == {m["sid"] for m in fake.messages}
        assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 0
        assert len(fake.requests) == 2


def test_permanent_and_temporary_faults(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002", "+33639980003"])
    with FakeTwilio() as fake:
        fake.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
        fake.fail_next(429, 20429, "Too Many Requests")
        fake.fail_next(500)
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=fake.gateway())
    assert result["failed"] == 1 and result["retry_later"] == 2 and result["sent"] == 0
    # the backoff itself is checked in test_temporary_errors_are_retried_after_a_backoff_then_sent
    assert statuses(store) == {"S0": ("failed", 21610), "S1": ("queued", 20429), "S2": ("queued", 500)}


def test_refused_credentials_stop_the_run_and_keep_the_message(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, "wrong-token", "TREMPLIN", base_url=fake.base_url)
        with pytest.raises(ConfigError, match="refused the credentials"):
            dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
    assert statuses(store)["S0"][0] == "queued"


def test_opted_out_number_is_dropped_not_sent(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    # STOP drops what is already queued for the number at once...
    store.suppress("+33639980001", reason="STOP", source="test", now=MONDAY_10H_PARIS)
    assert statuses(store, extra="status_reason") == {"S0": ("dropped", "opted_out")}
    # ...and the dispatcher drops what was queued for it later (another offer, published meanwhile)
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(1, to_number="+33639980001")])
    with FakeTwilio() as fake:
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=fake.gateway())
        assert fake.requests == []
    assert result["dropped_opted_out"] == 1 and result["sent"] == 0
    assert statuses(store, extra="status_reason")["S1"] == ("dropped", "opted_out")


def test_nothing_is_sent_on_a_public_holiday(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)  # a Friday
    with FakeTwilio() as fake:
        result = dispatch(settings, now=christmas, gateway=fake.gateway())
        assert fake.requests == []
    assert result["in_window"] is False
    assert result["next_window"] == "2026-12-26T08:00:00+01:00"


def test_the_rate_limit_spaces_the_calls(settings: Settings) -> None:
    # 10 messages at 20 per second: the calls span at least 9 intervals of 50 ms.
    limited = dataclasses.replace(settings, sms_rate_per_second=20.0)
    store = OpStore(limited.opstore)
    queue_messages(store, [f"+336399800{i:02d}" for i in range(10)])
    with FakeTwilio() as fake:
        gateway = fake.gateway()
        started = time.monotonic()
        assert dispatch(limited, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 10
        elapsed = time.monotonic() - started
    assert elapsed >= 9 / 20


# --- faults, one case each, through the official client -----------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_temporary_errors_are_retried_after_a_backoff_then_sent(settings: Settings, status: int) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        fake.fail_next(status, 20429 if status == 429 else None)
        first = dispatch(settings, now=MONDAY_10H_PARIS, gateway=fake.gateway())
        assert first["retry_later"] == 1
        (row,) = store.table_rows(sms_outbox)
        # backoff: 2 minutes after the first attempt, then doubling
        assert row["status"] == "queued" and row["attempts"] == 1
        assert row["not_before"].replace(tzinfo=UTC) - MONDAY_10H_PARIS >= timedelta(minutes=2)
        assert dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=1), gateway=fake.gateway())["sent"] == 0
        later = dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=3), gateway=fake.gateway())
        assert later["sent"] == 1
        assert len(fake.posts) == 2 and len(fake.messages) == 1


def test_retries_stop_at_the_limit_and_the_offer_goes_to_a_counsellor(settings: Settings) -> None:
    settings = dataclasses.replace(settings, sms_max_attempts=3)
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        for _ in range(3):
            fake.fail_next(503)
        now = MONDAY_10H_PARIS
        outcomes = []
        for _ in range(3):
            outcomes.append(dispatch(settings, now=now, gateway=fake.gateway()))
            now += timedelta(hours=1)
        assert len(fake.posts) == 3 and fake.messages == []
    assert [o["retry_later"] for o in outcomes] == [1, 1, 0] and outcomes[2]["failed"] == 1
    assert statuses(store) == {"S0": ("failed", 503)}
    assert queue_items(store) == {"S0": ("to_call", "sms_retries_exhausted")}


def test_a_timeout_is_looked_up_before_any_new_try(settings: Settings) -> None:
    settings = dataclasses.replace(settings, sms_reconcile_after_seconds=60)
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        fake.stall_next(1.5)  # Twilio takes the message but answers after the client gave up
        first = dispatch(settings, now=MONDAY_10H_PARIS, gateway=fake.gateway(timeout=0.5))
        assert first["unconfirmed"] == 1 and first["sent"] == 0
        assert statuses(store)["S0"][0] == "sending"
        time.sleep(1.2)  # the fake creates the message once its stall is over
        # within the grace period the message is left alone (its dispatcher may still be waiting)
        dispatch(settings, now=MONDAY_10H_PARIS + timedelta(seconds=30), gateway=fake.gateway())
        assert statuses(store)["S0"][0] == "sending"
        later = dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=2), gateway=fake.gateway())
        assert later["reconciled_sent"] == 1
        assert len(fake.posts) == 1 and len(fake.messages) == 1
        (row,) = store.table_rows(sms_outbox)
        assert row["status"] == "sent" and row["provider_sid"] == fake.messages[0]["sid"]


def test_a_send_that_never_reached_twilio_is_sent_again(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        unreachable = fake.gateway(timeout=2)
    # nothing listens there any more: the connection is refused
    assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=unreachable)["unconfirmed"] == 1
    with FakeTwilio() as fake:
        later = MONDAY_10H_PARIS + timedelta(minutes=5)
        result = dispatch(settings, now=later, gateway=fake.gateway())
        assert result["reconciled_requeued"] == 1 and result["sent"] == 1
        assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("code", "kind", "dropped"),
    [
        (21610, "opt_out", "opted_out"),
        (21211, "undeliverable", "number_undeliverable"),
        (21614, "undeliverable", "number_undeliverable"),
        (30003, "undeliverable", "number_undeliverable"),
        (30004, "undeliverable", "number_undeliverable"),
        (30005, "undeliverable", "number_undeliverable"),
        (30006, "undeliverable", "number_undeliverable"),
        (30007, "undeliverable", "number_undeliverable"),
    ],
)
def test_permanent_errors_mark_the_number_and_move_the_seeker_to_a_counsellor(
    settings: Settings, code: int, kind: str, dropped: str
) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002"])
    with FakeTwilio() as fake:
        fake.fail_next(400, code, f"Twilio error {code}")
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=fake.gateway())
        assert len(fake.posts) == 2  # no retry of the failed one; the other one went out
    assert result["failed"] == 1 and result["sent"] == 1
    assert statuses(store) == {"S0": ("failed", code), "S1": ("sent", None)}
    assert kinds(store) == {"+33639980001": kind}
    assert queue_items(store) == {"S0": ("to_call", f"sms_error_{code}")}
    # nothing more is ever sent to that number: a later offer to it (seeker S5) is dropped, not sent
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(5, to_number="+33639980001")])
    gateway = RecordingGateway()
    later = dispatch(settings, now=MONDAY_10H_PARIS + timedelta(days=1), gateway=gateway)
    assert later["sent"] == 0 and later[f"dropped_{dropped}"] == 1
    assert gateway.calls == []
    assert statuses(store, extra="status_reason")["S5"] == ("dropped", dropped)


def test_closed_vacancy_and_counsellor_contact_drop_the_message(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002", "+33639980003"])
    store.close_vacancy("V0", closed_on=date(2026, 11, 23), reason="filled", source="test", now=MONDAY_10H_PARIS)
    store.close_vacancy("V2", closed_on=date(2026, 11, 30), reason="expires", source="test", now=MONDAY_10H_PARIS)
    store.insert_ignoring_duplicates(
        counsellor_queue,
        [
            {
                "item_id": "call-S1",
                "run_date": date(2026, 11, 22),
                "agency_id": "FT-07-001",
                "seeker_id": "S1",
                "vacancy_id": "V9",
                "queue": "to_call",
                "reason": "rural_low_digital",
                "score": 0.6,
                "explanation": {},
                "status": "done",
                "created_at": datetime(2026, 11, 22, tzinfo=UTC),
                "contacted_at": datetime(2026, 11, 23, 8, 30, tzinfo=UTC),  # after the SMS was queued
            }
        ],
    )
    gateway = RecordingGateway()
    result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
    assert result["dropped_vacancy_closed"] == 1 and result["dropped_counsellor_contacted"] == 1
    assert [m.to for m in gateway.sent] == ["+33639980003"]  # V2 closes only next week
    rows = statuses(store, extra="status_reason")
    assert rows["S0"] == ("dropped", "vacancy_closed") and rows["S1"] == ("dropped", "counsellor_contacted")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 22, 10, 0, tzinfo=UTC),  # Sunday
        datetime(2026, 11, 23, 6, 59, tzinfo=UTC),  # Monday 07:59 in Paris
        datetime(2026, 11, 23, 19, 0, tzinfo=UTC),  # Monday 20:00 in Paris
        datetime(2026, 5, 1, 10, 0, tzinfo=UTC),  # Friday 1 May
    ],
)
def test_messages_wait_outside_the_window(settings: Settings, moment: datetime) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    gateway = RecordingGateway()
    result = dispatch(settings, now=moment, gateway=gateway)
    assert result["in_window"] is False and result["waiting"] == 1 and gateway.calls == []


@pytest.mark.parametrize(
    ("status", "code", "kind", "queued"),
    [
        ("delivered", None, None, None),
        ("undelivered", 21610, "opt_out", ("to_call", "sms_error_21610")),
        ("failed", 30003, "undeliverable", ("to_call", "sms_error_30003")),
        ("undelivered", 30008, None, None),  # unknown error: not permanent, nothing marked
    ],
)
def test_status_callbacks_move_the_message_forward_and_mark_permanent_failures(
    settings: Settings, status: str, code: int | None, kind: str | None, queued: tuple[str, str] | None
) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    dispatch(settings, now=MONDAY_10H_PARIS, gateway=RecordingGateway())
    (row,) = store.table_rows(sms_outbox)
    later = MONDAY_10H_PARIS + timedelta(minutes=1)
    assert record_status_callback(store, sid=row["provider_sid"], status=status, error_code=code, at=later)
    assert not record_status_callback(store, sid=row["provider_sid"], status=status, error_code=code, at=later)
    # a late "sent" never moves it back
    record_status_callback(store, sid=row["provider_sid"], status="sent", error_code=None, at=later)
    assert statuses(store)["S0"] == (status, code)
    assert kinds(store) == ({"+33639980001": kind} if kind else {})
    assert queue_items(store) == ({"S0": queued} if queued else {})


@pytest.mark.parametrize(
    ("status", "code", "kind", "queued"),
    [
        ("undelivered", 30005, "undeliverable", ("to_call", "sms_error_30005")),
        ("delivered", None, None, None),
    ],
)
def test_a_status_callback_that_comes_before_the_sid_is_recorded_is_applied_when_it_is(
    settings: Settings, status: str, code: int | None, kind: str | None, queued: tuple[str, str] | None
) -> None:
    # A fast provider can call back before the dispatcher has written down the sid its answer carried.
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    sid = sid_for_key(outbox_row(0)["message_id"])  # the sid RecordingGateway will answer for offer 0
    assert record_status_callback(store, sid=sid, status=status, error_code=code, at=MONDAY_10H_PARIS)
    # stored, but there is no message with that sid yet: nothing moves, nothing is marked
    assert statuses(store) == {"S0": ("queued", None)} and kinds(store) == {} and queue_items(store) == {}
    gateway = RecordingGateway()
    assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 1
    assert [m.sid for m in gateway.sent] == [sid]
    assert statuses(store) == {"S0": (status, code)}
    assert kinds(store) == ({"+33639980001": kind} if kind else {})
    assert queue_items(store) == ({"S0": queued} if queued else {})
