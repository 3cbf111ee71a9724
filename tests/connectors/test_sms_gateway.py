"""SMS gateways: the official twilio client against a local fake Twilio, the file sink, the recorder."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.sms import (
    FileSinkGateway,
    RecordingGateway,
    SentMessage,
    TwilioGateway,
    gateway_from_settings,
)
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.dev.serve_process import free_port
from tremplin.errors import ConfigError, SmsError
from tremplin.settings import Settings

TO = "+33612345678"
SENDER = "TREMPLIN"
BODY = "France Travail: offre Agent de propreté à Aubenas (12 km). Répondez OUI ou NON."
SID = re.compile(r"SM[0-9a-f]{32}")  # a Twilio message sid: "SM" and 32 lower-case hex digits


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def gateway(fake: FakeTwilio) -> TwilioGateway:
    return fake.gateway(SENDER, timeout=5)


# --- Twilio --------------------------------------------------------------------------------------


def test_twilio_send_success(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    sent = gateway.send(to=TO, body=BODY, idempotency_key="2026-11-23:S1:V1")
    assert isinstance(sent, SentMessage)
    assert sent.status == "queued"
    assert SID.fullmatch(sent.sid)
    assert sent.sid == fake.messages[0]["sid"]
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["path"] == f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    assert request["auth"] == (fake.account_sid, fake.auth_token)
    assert request["To"] == TO
    assert request["From"] == SENDER
    assert request["Body"] == BODY  # accents arrive intact through the form encoding
    assert "StatusCallback" not in request


def test_twilio_status_callback_is_sent(fake: FakeTwilio) -> None:
    gateway = fake.gateway(SENDER, status_callback="https://tremplin.example/twilio/status")
    gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert fake.requests[0]["StatusCallback"] == "https://tremplin.example/twilio/status"


def test_twilio_wrong_token_is_refused(fake: FakeTwilio) -> None:
    gateway = TwilioGateway(fake.account_sid, "wrong-token", SENDER, base_url=fake.base_url)
    with pytest.raises(SmsError) as info:
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert info.value.code == 20003
    assert info.value.permanent  # a 4xx other than 429
    assert fake.requests[0]["auth"] == (fake.account_sid, "wrong-token")
    assert fake.messages == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, 21610),  # recipient unsubscribed (replied STOP)
        (400, 21211),  # invalid 'To' number
        (400, 21614),  # not a mobile number
        (400, 30003),  # unreachable handset
        (400, 30007),  # carrier filtering
        (400, 21408),  # any other 4xx: permission to send to this region not enabled
        (500, 30006),  # a listed code is permanent whatever the HTTP status
    ],
)
def test_twilio_permanent_errors(fake: FakeTwilio, gateway: TwilioGateway, status: int, code: int) -> None:
    fake.fail_next(status, code, "no")
    with pytest.raises(SmsError) as info:
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert info.value.permanent is True
    assert info.value.code == code
    assert fake.messages == []


@pytest.mark.parametrize(
    ("status", "code", "expected_code"),
    [
        (429, 20429, 20429),  # too many requests
        (500, None, 500),  # no Twilio code: the HTTP status stands in
        (503, None, 503),
        (502, 20500, 20500),
    ],
)
def test_twilio_temporary_errors(
    fake: FakeTwilio, gateway: TwilioGateway, status: int, code: int | None, expected_code: int
) -> None:
    fake.fail_next(status, code, "try later")
    with pytest.raises(SmsError) as info:
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert info.value.permanent is False
    assert info.value.code == expected_code


def test_twilio_does_not_retry_by_itself(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    fake.fail_next(500, None, "boom")
    with pytest.raises(SmsError):
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert len(fake.requests) == 1
    sent = gateway.send(to=TO, body="Bonjour", idempotency_key="k")  # the dispatcher's retry
    assert len(fake.requests) == 2
    assert sent.sid == fake.messages[0]["sid"]


def test_twilio_connection_refused_is_temporary() -> None:
    port = free_port()  # free a moment ago: nobody listens there
    gateway = TwilioGateway("AC" + "0" * 32, "token", SENDER, base_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(SmsError) as info:
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert info.value.permanent is False
    assert info.value.code is None


def test_twilio_timeout_is_temporary(fake: FakeTwilio) -> None:
    gateway = fake.gateway(SENDER, timeout=0.2)
    fake.stall_next(1.0)
    with pytest.raises(SmsError) as info:
        gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert info.value.permanent is False
    assert info.value.code is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/X.json?a=1",
            "http://127.0.0.1:9/2010-04-01/X.json?a=1",
        ),
        ("https://example.com/2010-04-01/X.json", "https://example.com/2010-04-01/X.json"),
        ("https://eviltwilio.com/x", "https://eviltwilio.com/x"),
    ],
)
def test_only_twilio_hosts_are_rebased(url: str, expected: str) -> None:
    gateway = TwilioGateway("AC1", "token", SENDER, base_url="http://127.0.0.1:9/")
    assert gateway.http_client.rebase(url) == expected


def test_no_base_url_keeps_the_real_host() -> None:
    gateway = TwilioGateway("AC1", "token", SENDER)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert gateway.http_client.rebase(url) == url


# --- file sink -----------------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_file_sink_writes_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "sink" / "sms.jsonl"
    sent = FileSinkGateway(path).send(to=TO, body=BODY, idempotency_key="2026-11-23:S1:V1")
    assert SID.fullmatch(sent.sid) and sent.status == "sent"
    [line] = _lines(path)
    assert line["sid"] == sent.sid
    assert line["to"] == TO and line["body"] == BODY and line["idempotency_key"] == "2026-11-23:S1:V1"
    sent_at = datetime.fromisoformat(line["sent_at"])
    assert sent_at.utcoffset() is not None and sent_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 60


def test_file_sink_is_idempotent_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    first, second = FileSinkGateway(path), FileSinkGateway(path)
    first.send(to=TO, body="one", idempotency_key="k1")
    second.send(to=TO, body="one again", idempotency_key="k1")  # second never saw k1 in memory
    assert [line["body"] for line in _lines(path)] == ["one"]
    second.send(to=TO, body="two", idempotency_key="k2")
    first.send(to=TO, body="two again", idempotency_key="k2")  # first loaded the file before k2
    assert [line["body"] for line in _lines(path)] == ["one", "two"]
    assert FileSinkGateway(path).sent_keys() == {"k1", "k2"}


def test_file_sink_survives_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    FileSinkGateway(path).send(to=TO, body="one", idempotency_key="k1")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"sid": "SMcut", "to": "+3')  # a crash in the middle of a write
    sink = FileSinkGateway(path)
    sink.send(to=TO, body="two", idempotency_key="k2")
    assert FileSinkGateway(path).sent_keys() == {"k1", "k2"}  # the cut line is skipped when reading
    sink.send(to=TO, body="one", idempotency_key="k1")  # both know k1 is there: neither writes it again
    FileSinkGateway(path).send(to=TO, body="x", idempotency_key="k1")
    keys = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            keys.append(json.loads(raw)["idempotency_key"])
        except ValueError:
            continue
    assert keys == ["k1", "k2"]


# --- recorder and choice -------------------------------------------------------------------------


def test_recording_gateway_records_and_fails_on_demand() -> None:
    error = SmsError("unsubscribed", code=21610, permanent=True)
    gateway = RecordingGateway(fail_with={"+33700000000": error})
    gateway.send(to=TO, body="a", idempotency_key="k1")
    gateway.send(to=TO, body="a", idempotency_key="k1")  # not idempotent: a double send shows
    with pytest.raises(SmsError) as info:
        gateway.send(to="+33700000000", body="b", idempotency_key="k2")
    assert info.value is error
    assert [m.idempotency_key for m in gateway.sent] == ["k1", "k1"]
    assert [m.to for m in gateway.calls] == [TO, TO, "+33700000000"]


def test_gateway_from_settings_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    gateway = gateway_from_settings(settings)
    assert isinstance(gateway, FileSinkGateway)
    assert gateway.path == tmp_path / "sms_sink.jsonl"


@pytest.mark.parametrize("missing", ["twilio_account_sid", "twilio_auth_token", "sms_sender"])
def test_gateway_from_settings_names_the_missing_setting(tmp_path: Path, missing: str) -> None:
    values = {"twilio_account_sid": "AC1", "twilio_auth_token": "token", "sms_sender": SENDER, missing: ""}
    settings = Settings(home=tmp_path, sms_backend="twilio", **values)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=missing):
        gateway_from_settings(settings)


def test_gateway_from_settings_twilio_end_to_end(tmp_path: Path, fake: FakeTwilio) -> None:
    settings = Settings.from_env(
        {
            "TREMPLIN_SMS_BACKEND": "twilio",
            "TREMPLIN_TWILIO_ACCOUNT_SID": fake.account_sid,
            "TREMPLIN_TWILIO_AUTH_TOKEN": fake.auth_token,
            "TREMPLIN_TWILIO_BASE_URL": fake.base_url,
            "TREMPLIN_SMS_SENDER": "FT",
        },
        home=tmp_path,
    )
    gateway = gateway_from_settings(settings)
    assert isinstance(gateway, TwilioGateway)
    sent = gateway.send(to=TO, body="Bonjour", idempotency_key="k")
    assert sent.sid == fake.messages[0]["sid"]
    assert fake.requests[0]["From"] == "FT"


# --- finding a message whose answer was lost --------------------------------------------------------


def test_twilio_find_matches_number_and_exact_text(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    first = gateway.send(to=TO, body=BODY, idempotency_key="k1")
    gateway.send(to=TO, body=BODY + " (réf. 2)", idempotency_key="k2")
    gateway.send(to="+33612345679", body=BODY + " (réf. 3)", idempotency_key="k3")
    found = gateway.find(to=TO, body=BODY, idempotency_key="k1")
    assert found is not None and found.sid == first.sid
    assert gateway.find(to="+33612345679", body=BODY, idempotency_key="k1") is None  # same text, other number
    assert gateway.find(to=TO, body=BODY + " (réf. 9)", idempotency_key="k9") is None
    lists = [r for r in fake.requests if r["method"] == "GET"]
    assert lists and all(r["To"] in (TO, "+33612345679") and r["From"] == SENDER for r in lists)


def test_twilio_find_that_cannot_list_raises_a_temporary_error() -> None:
    with FakeTwilio() as server:
        gateway = server.gateway(SENDER, timeout=2)
    # the server is gone: the list cannot be fetched
    with pytest.raises(SmsError) as caught:
        gateway.find(to=TO, body=BODY, idempotency_key="k1")
    assert caught.value.permanent is False


def test_file_sink_and_recording_find_by_key(tmp_path: Path) -> None:
    sink = FileSinkGateway(tmp_path / "sink.jsonl")
    sent = sink.send(to=TO, body=BODY, idempotency_key="k1")
    assert FileSinkGateway(tmp_path / "sink.jsonl").find(to=TO, body=BODY, idempotency_key="k1") == sent
    assert sink.find(to=TO, body=BODY, idempotency_key="k2") is None
    recording = RecordingGateway()
    assert recording.find(to=TO, body=BODY, idempotency_key="k1") is None
    kept = recording.send(to=TO, body=BODY, idempotency_key="k1")
    assert recording.find(to=TO, body=BODY, idempotency_key="k1") == kept
