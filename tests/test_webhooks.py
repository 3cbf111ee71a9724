"""Twilio webhooks over real HTTP: signatures, replays, status callbacks and a whole conversation."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import uvicorn

from connectors.fake_twilio import FakeTwilio, twilio_signature
from connectors.opstore import OpStore
from connectors.optables import (
    counsellor_queue,
    inbound_messages,
    screening_answers,
    sms_outbox,
    sms_status_events,
    suppression,
)
from connectors.sms import TwilioGateway
from tests.outbox import outbox_row
from tremplin.dispatch import dispatch
from tremplin.errors import ConfigError
from tremplin.settings import Settings
from tremplin.webhooks import create_app

TOKEN = "fake-auth-token"
MONDAY_10H_PARIS = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(settings: Settings, port: int) -> Iterator[None]:
    """``create_app`` served by uvicorn on a loopback port, as ``tremplin serve`` does."""
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        home=tmp_path / "home",
        twilio_auth_token=TOKEN,
        public_base_url=base,
        sms_rate_per_second=0.0,
        sms_status_callback=f"{base}/twilio/status",
    )
    with serving(settings, port):
        yield base, settings


def queue_offer(store: OpStore, i: int, phone: str) -> None:
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(i, to_number=phone, score=0.7)])


def test_the_whole_match_ft_path_over_http(server: tuple[str, Settings]) -> None:
    base, settings = server
    store = OpStore(settings.opstore)
    queue_offer(store, 1, "+33639980001")
    queue_offer(store, 2, "+33639980002")
    with FakeTwilio(auth_token=TOKEN) as fake:
        gateway = TwilioGateway(
            fake.account_sid, TOKEN, "TREMPLIN", base_url=fake.base_url, status_callback=settings.sms_status_callback
        )
        assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 2
        by_to = {m["to"]: m["sid"] for m in fake.messages}
        # Twilio reports delivery for one and a carrier failure for the other
        assert fake.set_status(by_to["+33639980001"], "delivered") == 204
        assert fake.set_status(by_to["+33639980002"], "undelivered", error_code=30006) == 204
        assert fake.set_status(by_to["+33639980001"], "delivered") == 204  # a replay
        rows = {r["seeker_id"]: r for r in store.table_rows(sms_outbox)}
        assert rows["S1"]["status"] == "delivered"
        assert (rows["S2"]["status"], rows["S2"]["error_code"]) == ("undelivered", 30006)
        assert store.count(sms_status_events) == 2
        assert [(r["phone"], r["kind"]) for r in store.table_rows(suppression)] == [("+33639980002", "undeliverable")]
        queued = {r["seeker_id"]: (r["queue"], r["reason"]) for r in store.table_rows(counsellor_queue)}
        assert queued == {"S2": ("to_call", "sms_error_30006")}

        # the seeker answers OUI, then the three screening questions
        url = f"{base}/twilio/inbound"
        status, twiml = fake.inbound(url, from_="+33639980001", body="Oui merci !")
        assert status == 200 and "<Message>Pouvez-vous commencer" in twiml
        for body in ("oui", "OUI", "non"):
            status, twiml = fake.inbound(url, from_="+33639980001", body=body)
            assert status == 200
        assert "Un conseiller vous rappelle" in twiml
    items = {r["seeker_id"]: (r["queue"], r["reason"]) for r in store.table_rows(counsellor_queue)}
    assert items["S1"] == ("interested", "screened")
    assert sorted((r["question_key"], r["answer_yes_no"]) for r in store.table_rows(screening_answers)) == [
        ("availability", True),
        ("hours", False),
        ("travel", True),
    ]


def test_unsigned_or_forged_requests_are_refused_and_stored_nowhere(server: tuple[str, Settings]) -> None:
    base, settings = server
    store = OpStore(settings.opstore)
    url = f"{base}/twilio/inbound"
    with FakeTwilio(auth_token=TOKEN) as fake:
        assert fake.inbound(url, from_="+33639980001", body="STOP", sign=False)[0] == 403
        assert fake.inbound(url, from_="+33639980001", body="STOP", signature="bm90IGEgc2lnbmF0dXJl")[0] == 403
    with FakeTwilio(auth_token="another-token") as other:  # signed with the wrong key
        assert other.inbound(url, from_="+33639980001", body="STOP")[0] == 403
    # a valid signature for other fields (the body was changed on the way)
    fields = {"MessageSid": "SM1", "From": "+33639980001", "To": "+33700000000", "Body": "OUI"}
    signature = twilio_signature(TOKEN, url, fields)
    tampered = requests.post(url, data={**fields, "Body": "STOP"}, headers={"X-Twilio-Signature": signature}, timeout=5)
    assert tampered.status_code == 403
    status_url = f"{base}/twilio/status"
    callback = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    assert requests.post(status_url, data=callback, timeout=5).status_code == 403
    for table in (inbound_messages, suppression, sms_status_events, counsellor_queue):
        assert store.count(table) == 0, table.name


def test_a_replayed_inbound_message_sid_changes_nothing(server: tuple[str, Settings]) -> None:
    base, settings = server
    store = OpStore(settings.opstore)
    url = f"{base}/twilio/inbound"
    with FakeTwilio(auth_token=TOKEN) as fake:
        first = fake.inbound(url, from_="+33639980001", body="STOP", message_sid="SM" + "a" * 32)
        store.unsuppress("+33639980001")  # lifted meanwhile (START by another path)
        again = fake.inbound(url, from_="+33639980001", body="STOP", message_sid="SM" + "a" * 32)
    assert first == again
    assert store.count(inbound_messages) == 1
    assert store.count(suppression) == 0  # the replay did not opt the number out again


def test_the_app_refuses_to_start_without_the_auth_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TREMPLIN_TWILIO_AUTH_TOKEN"):
        create_app(Settings.from_env({}, data_dir=tmp_path, home=tmp_path))


def test_behind_a_proxy_the_public_url_is_what_is_signed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, data_dir=tmp_path, home=tmp_path, twilio_auth_token=TOKEN, public_base_url="https://sms.example.fr/hooks"
    )
    port = _free_port()
    local_url = f"http://127.0.0.1:{port}/twilio/inbound"
    fields = {"MessageSid": "SM2", "From": "+33639980001", "To": "+33700000000", "Body": "AIDE"}
    good = twilio_signature(TOKEN, "https://sms.example.fr/hooks/twilio/inbound", fields)
    local = twilio_signature(TOKEN, local_url, fields)
    with serving(settings, port):
        refused = requests.post(local_url, data=fields, headers={"X-Twilio-Signature": local}, timeout=5)
        answer = requests.post(local_url, data=fields, headers={"X-Twilio-Signature": good}, timeout=5)
    assert refused.status_code == 403
    assert answer.status_code == 200 and "3949" in answer.text
    assert answer.headers["content-type"].startswith("application/xml")
