"""Twilio webhooks over real HTTP: signatures, replays, status callbacks and a whole conversation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connectors.opstore import OpStore
from connectors.optables import (
    counsellor_queue,
    inbound_messages,
    screening_answers,
    sms_status_events,
    suppression,
)
from tests.support.outbox import MONDAY_10H_PARIS, kinds, queue_items, queue_messages, statuses
from tremplin.dev.fake_twilio import FakeTwilio, twilio_signature
from tremplin.dev.serve_process import free_port, serving_in_thread
from tremplin.errors import ConfigError
from tremplin.settings import Settings
from tremplin.sms.dispatch import dispatch
from tremplin.sms.webhooks import create_app

TOKEN = "fake-auth-token"


@pytest.fixture
def server(tmp_path: Path, opstore_url: str) -> Iterator[tuple[str, Settings]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        home=tmp_path / "home",
        opstore_url=opstore_url,
        twilio_auth_token=TOKEN,
        public_base_url=base,
        sms_rate_per_second=0.0,
        sms_status_callback=f"{base}/twilio/status",
    )
    with serving_in_thread(create_app(settings), port=port) as served:
        assert served == base
        yield base, settings


def test_the_whole_match_ft_path_over_http(server: tuple[str, Settings]) -> None:
    base, settings = server
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001", "+33639980002"], first=1)
    with FakeTwilio(auth_token=TOKEN) as fake:
        gateway = fake.gateway(status_callback=settings.sms_status_callback)
        assert dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)["sent"] == 2
        by_to = {m["to"]: m["sid"] for m in fake.messages}
        # Twilio reports delivery for one and a carrier failure for the other
        assert fake.set_status(by_to["+33639980001"], "delivered") == 204
        assert fake.set_status(by_to["+33639980002"], "undelivered", error_code=30006) == 204
        assert fake.set_status(by_to["+33639980001"], "delivered") == 204  # a replay
        assert statuses(store) == {"S1": ("delivered", None), "S2": ("undelivered", 30006)}
        assert store.count(sms_status_events) == 2
        assert kinds(store) == {"+33639980002": "undeliverable"}
        assert queue_items(store) == {"S2": ("to_call", "sms_error_30006")}

        # the seeker answers OUI, then the three screening questions
        url = f"{base}/twilio/inbound"
        status, twiml = fake.inbound(url, from_="+33639980001", body="Oui merci !")
        assert status == 200 and "<Message>Pouvez-vous commencer" in twiml
        for body in ("oui", "OUI", "non"):
            status, twiml = fake.inbound(url, from_="+33639980001", body=body)
            assert status == 200
        assert "Un conseiller vous rappelle" in twiml
    assert queue_items(store)["S1"] == ("interested", "screened")
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


def test_twilio_advanced_opt_out_stop_suppresses_and_gets_an_empty_answer(server: tuple[str, Settings]) -> None:
    # With Advanced Opt-Out, Twilio answers the seeker itself and posts OptOutType=STOP: we record and stay silent.
    base, settings = server
    store = OpStore(settings.opstore)
    queue_messages(store, ["+33639980001"], first=1)  # an offer still waiting for the window
    with FakeTwilio(auth_token=TOKEN) as fake:
        status, twiml = fake.inbound(f"{base}/twilio/inbound", from_="+33639980001", body="STOP", opt_out_type="STOP")
    assert status == 200
    answer = ET.fromstring(twiml)
    assert answer.tag == "Response" and list(answer) == [] and not (answer.text or "").strip()
    assert kinds(store) == {"+33639980001": "opt_out"}
    assert statuses(store, extra="status_reason") == {"S1": ("dropped", "opted_out")}
    (row,) = store.table_rows(inbound_messages)
    assert (row["intent"], row["opt_out_type"], row["reply_body"]) == ("stop", "STOP", None)


def test_the_app_refuses_to_start_without_the_auth_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TREMPLIN_TWILIO_AUTH_TOKEN"):
        create_app(Settings.from_env({}, data_dir=tmp_path, home=tmp_path))


def test_behind_a_proxy_the_public_url_is_what_is_signed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, data_dir=tmp_path, home=tmp_path, twilio_auth_token=TOKEN, public_base_url="https://sms.example.fr/hooks"
    )
    port = free_port()
    local_url = f"http://127.0.0.1:{port}/twilio/inbound"
    fields = {"MessageSid": "SM2", "From": "+33639980001", "To": "+33700000000", "Body": "AIDE"}
    good = twilio_signature(TOKEN, "https://sms.example.fr/hooks/twilio/inbound", fields)
    local = twilio_signature(TOKEN, local_url, fields)
    with serving_in_thread(create_app(settings), port=port):
        refused = requests.post(local_url, data=fields, headers={"X-Twilio-Signature": local}, timeout=5)
        answer = requests.post(local_url, data=fields, headers={"X-Twilio-Signature": good}, timeout=5)
    assert refused.status_code == 403
    assert answer.status_code == 200 and "3949" in answer.text
    assert answer.headers["content-type"].startswith("application/xml")
