"""Dispatch through the official twilio client against a local fake Twilio API: sends, faults, window."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.fake_twilio import FakeTwilio
from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox, suppression
from connectors.sms import RecordingGateway, TwilioGateway
from tests.outbox import outbox_row
from tremplin.dispatch import dispatch, record_status_callback
from tremplin.errors import ConfigError
from tremplin.settings import Settings

MONDAY_10H_PARIS = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def queue_messages(store: OpStore, numbers: list[str]) -> None:
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(i, to_number=n) for i, n in enumerate(numbers)])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, home=tmp_path / "home", sms_rate_per_second=0.0)


def statuses(store: OpStore) -> dict[str, tuple[str, int | None]]:
    return {r["seeker_id"]: (r["status"], r["error_code"]) for r in store.table_rows(sms_outbox)}


def test_sends_through_twilio_and_records_the_sid(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002"])
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
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
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
    assert result["failed"] == 1 and result["retry_later"] == 2 and result["sent"] == 0
    got = statuses(store)
    assert got["S0"] == ("failed", 21610)
    assert got["S1"][0] == "queued" and got["S2"][0] == "queued"
    # the retried messages wait for their backoff: nothing is due at the same moment
    assert OpStore(settings.opstore).due_messages(MONDAY_10H_PARIS) == []


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
    store.suppress("+33639980001", reason="STOP", source="test", now=MONDAY_10H_PARIS)
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
        assert fake.requests == []
    assert result["dropped_opted_out"] == 1
    assert statuses(store)["S0"][0] == "dropped"


def test_nothing_is_sent_on_a_public_holiday(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)  # a Friday
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        result = dispatch(settings, now=christmas, gateway=gateway)
        assert fake.requests == []
    assert result["in_window"] is False
    assert result["next_window"] == "2026-12-26T08:00:00+01:00"


def test_the_rate_limit_spaces_the_calls(settings: Settings) -> None:
    # 10 messages at 20 per second: the calls span at least 9 intervals of 50 ms.
    limited = Settings.from_env({}, data_dir=settings.data_dir, home=settings.home, sms_rate_per_second=20.0)
    store = OpStore(limited.opstore)
    queue_messages(store, [f"+336399800{i:02d}" for i in range(10)])
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        started = time.monotonic()
        assert dispatch(limited, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 10
        elapsed = time.monotonic() - started
    assert elapsed >= 9 / 20


# --- faults, one case each, through the official client -----------------------------------------


def gateway_for(fake: FakeTwilio, timeout: float = 10) -> TwilioGateway:
    return TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url, timeout=timeout)


def posts(fake: FakeTwilio) -> list[dict[str, object]]:
    return [r for r in fake.requests if r["method"] == "POST"]


def queue_items(store: OpStore) -> dict[str, tuple[str, str]]:
    return {r["seeker_id"]: (r["queue"], r["reason"]) for r in store.table_rows(counsellor_queue)}


def kinds(store: OpStore) -> dict[str, str]:
    return {r["phone"]: r["kind"] for r in store.table_rows(suppression)}


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_temporary_errors_are_retried_after_a_backoff_then_sent(settings: Settings, status: int) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        fake.fail_next(status, 20429 if status == 429 else None)
        first = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway_for(fake))
        assert first["retry_later"] == 1
        (row,) = store.table_rows(sms_outbox)
        # backoff: 2 minutes after the first attempt, then doubling
        assert row["status"] == "queued" and row["attempts"] == 1
        assert row["not_before"].replace(tzinfo=UTC) - MONDAY_10H_PARIS >= timedelta(minutes=2)
        assert dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=1), gateway=gateway_for(fake))["sent"] == 0
        later = dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=3), gateway=gateway_for(fake))
        assert later["sent"] == 1
        assert len(posts(fake)) == 2 and len(fake.messages) == 1


def test_retries_stop_at_the_limit_and_the_offer_goes_to_a_counsellor(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, data_dir=tmp_path, home=tmp_path / "home", sms_rate_per_second=0.0, sms_max_attempts=3
    )
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        for _ in range(3):
            fake.fail_next(503)
        now = MONDAY_10H_PARIS
        outcomes = []
        for _ in range(3):
            outcomes.append(dispatch(settings, now=now, gateway=gateway_for(fake)))
            now += timedelta(hours=1)
        assert len(posts(fake)) == 3 and fake.messages == []
    assert [o["retry_later"] for o in outcomes] == [1, 1, 0] and outcomes[2]["failed"] == 1
    assert statuses(store)["S0"] == ("failed", 503)
    assert queue_items(store) == {"S0": ("to_call", "sms_retries_exhausted")}


def test_a_timeout_is_looked_up_before_any_new_try(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, data_dir=tmp_path, home=tmp_path / "home", sms_rate_per_second=0.0, sms_reconcile_after_seconds=60
    )
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        fake.stall_next(1.5)  # Twilio takes the message but answers after the client gave up
        first = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway_for(fake, timeout=0.5))
        assert first["unconfirmed"] == 1 and first["sent"] == 0
        assert statuses(store)["S0"][0] == "sending"
        time.sleep(1.2)  # the fake creates the message once its stall is over
        # within the grace period the message is left alone (its dispatcher may still be waiting)
        dispatch(settings, now=MONDAY_10H_PARIS + timedelta(seconds=30), gateway=gateway_for(fake))
        assert statuses(store)["S0"][0] == "sending"
        later = dispatch(settings, now=MONDAY_10H_PARIS + timedelta(minutes=2), gateway=gateway_for(fake))
        assert later["reconciled_sent"] == 1
        assert len(posts(fake)) == 1 and len(fake.messages) == 1
        (row,) = store.table_rows(sms_outbox)
        assert row["status"] == "sent" and row["provider_sid"] == fake.messages[0]["sid"]


def test_a_send_that_never_reached_twilio_is_sent_again(settings: Settings) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"])
    with FakeTwilio() as fake:
        dead = fake.base_url
    # nothing listens there any more: the connection is refused
    unreachable = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=dead, timeout=2)
    assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=unreachable)["unconfirmed"] == 1
    with FakeTwilio() as fake:
        later = MONDAY_10H_PARIS + timedelta(minutes=5)
        result = dispatch(settings, now=later, gateway=gateway_for(fake))
        assert result["reconciled_requeued"] == 1 and result["sent"] == 1
        assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (21610, "opt_out"),
        (21211, "undeliverable"),
        (21614, "undeliverable"),
        (30003, "undeliverable"),
        (30004, "undeliverable"),
        (30005, "undeliverable"),
        (30006, "undeliverable"),
        (30007, "undeliverable"),
    ],
)
def test_permanent_errors_mark_the_number_and_move_the_seeker_to_a_counsellor(
    settings: Settings, code: int, kind: str
) -> None:
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002"])
    with FakeTwilio() as fake:
        fake.fail_next(400, code, f"Twilio error {code}")
        result = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway_for(fake))
        assert len(posts(fake)) == 2  # no retry of the failed one; the other one went out
    assert result["failed"] == 1 and result["sent"] == 1
    assert statuses(store)["S0"] == ("failed", code)
    assert kinds(store) == {"+33639980001": kind}
    assert queue_items(store) == {"S0": ("to_call", f"sms_error_{code}")}
    # nothing more is ever sent to that number
    assert dispatch(settings, now=MONDAY_10H_PARIS + timedelta(days=1), gateway=RecordingGateway())["sent"] == 0


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
    rows = {r["seeker_id"]: (r["status"], r["status_reason"]) for r in store.table_rows(sms_outbox)}
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
