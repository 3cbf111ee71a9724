"""Dispatch through the official twilio client against a local fake Twilio API: sends, faults, window."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.opstore import OpStore
from connectors.optables import sms_outbox
from connectors.sms import TwilioGateway
from connectors.fake_twilio import FakeTwilio
from tremplin.dispatch import dispatch
from tremplin.errors import ConfigError
from tremplin.settings import Settings

MONDAY_10H_PARIS = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def queue_messages(store: OpStore, numbers: list[str]) -> None:
    rows = [
        {
            "message_id": f"2026-11-23:S{i}:V{i}",
            "run_date": date(2026, 11, 23),
            "seeker_id": f"S{i}",
            "vacancy_id": f"V{i}",
            "agency_id": "FT-07-001",
            "to_number": number,
            "reply_ref": 1,
            "body": f"offre {i}",
            "segments": 1,
            "encoding": "GSM-7",
            "score": 0.5,
            "explanation": {"title": f"Métier {i}"},
            "status": "queued",
            "attempts": 0,
            "not_before": datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
            "created_at": datetime(2026, 11, 23, tzinfo=UTC),
        }
        for i, number in enumerate(numbers)
    ]
    store.insert_ignoring_duplicates(sms_outbox, rows)


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
