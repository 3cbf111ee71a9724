"""The fake Twilio against the official client: list, fetch, latency, status callbacks and inbound webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from connectors.fake_twilio import FakeTwilio, twilio_signature
from connectors.sms import TwilioGateway
from tremplin.errors import SmsError

ALICE = "+33612345678"
BOB = "+33698765432"
SENDER = "TREMPLIN"


class Receiver:
    """A local webhook endpoint recording each POST (path, headers, form) and answering ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "form": form})
                data = b"<Response/>"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def gateway_for(fake: FakeTwilio, **kwargs: Any) -> TwilioGateway:
    return TwilioGateway(fake.account_sid, fake.auth_token, SENDER, base_url=fake.base_url, **kwargs)


def client_for(fake: FakeTwilio) -> Client:
    return gateway_for(fake).client


def send(gateway: TwilioGateway, to: str, n: int) -> list[str]:
    return [gateway.send(to=to, body=f"offre {i}", idempotency_key=f"{to}:{i}").sid for i in range(n)]


def get(fake: FakeTwilio, path: str, **params: str) -> requests.Response:
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/{path}"
    return requests.get(url, params=params, auth=(fake.account_sid, fake.auth_token), timeout=5)


# --- list and fetch ------------------------------------------------------------------------------


def test_list_filters_by_to_newest_first(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    alice = send(gateway, ALICE, 3)
    [bob] = send(gateway, BOB, 1)
    listed = gateway.client.messages.list(to=ALICE)
    assert [m.sid for m in listed] == alice[::-1]
    assert {m.to for m in listed} == {ALICE}
    assert {m.from_ for m in listed} == {SENDER}
    created = listed[0].date_created
    assert created is not None and created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert abs(time.time() - created.timestamp()) < 60
    assert [m.sid for m in gateway.client.messages.list(from_=SENDER)] == [bob, *alice[::-1]]
    assert gateway.client.messages.list(to="+33600000000") == []


def test_list_pages_through_next_page_uri(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    sids = send(gateway, ALICE, 5)
    send(gateway, BOB, 2)
    fake.requests.clear()

    listed = gateway.client.messages.list(to=ALICE, limit=10, page_size=2)

    assert [m.sid for m in listed] == sids[::-1]
    gets = [r for r in fake.requests if r["method"] == "GET"]
    assert len(gets) == 3  # pages of 2, 2 and 1
    assert [r.get("Page") for r in gets] == [None, "1", "2"]  # the client asks for page 0 without Page=
    assert all(r["To"] == ALICE and r["PageSize"] == "2" for r in gets)
    assert "PageToken" not in gets[0] and all(r["PageToken"].startswith("PA") for r in gets[1:])
    # the limit stops the paging early
    fake.requests.clear()
    assert [m.sid for m in gateway.client.messages.list(to=ALICE, limit=3, page_size=2)] == sids[::-1][:3]
    assert len(fake.requests) == 2


def test_page_token_is_a_cursor(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    sids = send(gateway, ALICE, 4)
    first = gateway.client.messages.page(to=ALICE, page_size=2)
    newer = send(gateway, ALICE, 1)  # arrives between two pages: shifts offsets, not the cursor
    second = first.next_page()
    assert second is not None
    assert [m.sid for m in first] + [m.sid for m in second] == sids[::-1]
    assert second.next_page_url is None
    previous = second.previous_page()
    assert previous is not None and [m.sid for m in previous] == sids[::-1][:2]
    assert newer[0] not in {m.sid for m in previous}


def test_list_payload_has_twilio_shape(fake: FakeTwilio) -> None:
    send(gateway_for(fake), ALICE, 3)
    first = get(fake, "Messages.json", To=ALICE, PageSize="2")
    assert first.status_code == 200
    payload = first.json()
    assert set(payload) == {
        "messages",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert (payload["page"], payload["page_size"], payload["start"], payload["end"]) == (0, 2, 0, 1)
    assert payload["previous_page_uri"] is None
    assert payload["next_page_uri"].startswith(f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json?To=%2B33")
    last = requests.get(fake.base_url + payload["next_page_uri"], auth=(fake.account_sid, fake.auth_token), timeout=5)
    assert last.status_code == 200
    last_payload = last.json()
    assert len(last_payload["messages"]) == 1
    assert last_payload["next_page_uri"] is None
    assert (last_payload["page"], last_payload["start"], last_payload["end"]) == (1, 2, 2)
    assert last_payload["previous_page_uri"] is not None
    assert get(fake, "Messages.json", PageSize="many").status_code == 400


def test_list_filters_by_date_sent(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    sent, queued = send(gateway, ALICE, 2)
    fake.set_status(sent, "sent")
    date_sent = gateway.client.messages(sent).fetch().date_sent
    assert date_sent is not None
    day = date_sent.date()
    # the client sends dates as YYYY-MM-DDT00:00:00Z; the fake keeps the day, as the filter is by day
    assert [m.sid for m in gateway.client.messages.list(date_sent=day)] == [sent]
    assert [m.sid for m in gateway.client.messages.list(date_sent_after=day)] == [sent]
    assert gateway.client.messages.list(date_sent_before=day - timedelta(days=1)) == []
    assert gateway.client.messages.list(date_sent_after=day + timedelta(days=1)) == []
    assert queued not in {m.sid for m in gateway.client.messages.list(date_sent_before=day)}


def test_fetch_by_sid(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    [sid] = send(gateway, ALICE, 1)
    message = gateway.client.messages(sid).fetch()
    assert (message.sid, message.to, message.from_, message.body, message.status) == (
        sid,
        ALICE,
        SENDER,
        "offre 0",
        "queued",
    )
    assert message.date_created is not None and message.date_created.tzinfo == UTC
    assert message.date_sent is None


def test_fetch_unknown_sid_is_404(fake: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as info:
        client_for(fake).messages("SM" + "0" * 32).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)


def test_get_with_wrong_token_is_401(fake: FakeTwilio) -> None:
    [sid] = send(gateway_for(fake), ALICE, 1)
    client = TwilioGateway(fake.account_sid, "wrong-token", SENDER, base_url=fake.base_url).client
    # a refused page is a bare TwilioException("Unable to fetch page", response), not a TwilioRestException
    with pytest.raises(TwilioException) as listing:
        client.messages.list(to=ALICE)
    assert not isinstance(listing.value, TwilioRestException)
    _, response = listing.value.args
    assert (response.status_code, json.loads(response.text)["code"]) == (401, 20003)
    with pytest.raises(TwilioRestException) as fetching:
        client.messages(sid).fetch()
    assert (fetching.value.status, fetching.value.code) == (401, 20003)


def test_faults_only_hit_creates(fake: FakeTwilio) -> None:
    gateway = gateway_for(fake)
    fake.fail_next(500, None, "boom")
    assert gateway.client.messages.list() == []  # the GET does not consume the fault
    with pytest.raises(SmsError):
        gateway.send(to=ALICE, body="Bonjour", idempotency_key="k")
    assert fake.messages == []


def test_unknown_path_and_method(fake: FakeTwilio) -> None:
    assert get(fake, "Calls.json").status_code == 404
    assert get(fake, "Messages/SM123/Media.json").json()["code"] == 20404
    [sid] = send(gateway_for(fake), ALICE, 1)
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json"
    refused = requests.post(url, data={"Body": ""}, auth=(fake.account_sid, fake.auth_token), timeout=5)
    assert refused.status_code == 405


# --- latency ----------------------------------------------------------------------------------------


def test_message_is_recorded_before_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeTwilio(latency=0.6) as fake:
        impatient = gateway_for(fake, timeout=0.2)
        with pytest.raises(SmsError) as info:
            impatient.send(to=ALICE, body="Bonjour", idempotency_key="k")
        assert info.value.permanent is False
        # the client gave up before the 201, but the message exists: Twilio will deliver it
        assert [m["to"] for m in fake.messages] == [ALICE]
        time.sleep(0.8)  # the server answers a client that is gone: no noise
    assert capsys.readouterr().err == ""


def test_latency_delays_the_answer_not_the_record() -> None:
    with FakeTwilio(latency=0.5) as fake:
        gateway = gateway_for(fake)
        result: list[str] = []
        sender = threading.Thread(target=lambda: result.append(send(gateway, ALICE, 1)[0]))
        started = time.monotonic()
        sender.start()
        while not fake.messages and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert fake.messages and not result  # recorded, not answered yet
        sender.join(timeout=5)
        assert result == [fake.messages[0]["sid"]]
        assert time.monotonic() - started >= 0.5


# --- status callbacks ------------------------------------------------------------------------------


def test_status_callback_is_signed_and_carries_the_error(fake: FakeTwilio, receiver: Receiver) -> None:
    url = receiver.url("/twilio/status?run=1")
    gateway = gateway_for(fake, status_callback=url)
    [sid] = send(gateway, ALICE, 1)

    assert fake.set_status(sid, "undelivered", error_code=30003) == 200

    [call] = receiver.received
    form = call["form"]
    assert call["path"] == "/twilio/status?run=1"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": "undelivered",
        "SmsStatus": "undelivered",
        "AccountSid": fake.account_sid,
        "From": SENDER,
        "To": ALICE,
        "ApiVersion": "2010-04-01",
        "ErrorCode": "30003",
    }
    signature = call["headers"]["X-Twilio-Signature"]
    assert RequestValidator(fake.auth_token).validate(url, form, signature)
    assert not RequestValidator("another-token").validate(url, form, signature)
    assert not RequestValidator(fake.auth_token).validate(url, {**form, "ErrorCode": "0"}, signature)

    message = gateway.client.messages(sid).fetch()
    assert (message.status, message.error_code) == ("undelivered", 30003)
    assert message.date_sent is not None and message.date_sent.tzinfo == UTC


def test_status_without_callback_url(fake: FakeTwilio, receiver: Receiver) -> None:
    [sid] = send(gateway_for(fake), ALICE, 1)
    assert fake.set_status(sid, "sent") is None
    assert receiver.received == []
    assert fake.messages[0]["status"] == "sent" and fake.messages[0]["date_sent"]
    with pytest.raises(KeyError):
        fake.set_status("SM" + "f" * 32, "sent")


def test_status_callback_answer_is_returned(fake: FakeTwilio) -> None:
    refusing = Receiver(status=403)
    try:
        [sid] = send(gateway_for(fake, status_callback=refusing.url("/status")), ALICE, 1)
        assert fake.set_status(sid, "sent") == 403
        assert fake.callbacks[-1]["status"] == 403
    finally:
        refusing.close()


def test_auto_status_posts_sent_then_delivered(receiver: Receiver) -> None:
    with FakeTwilio(auto_status=("sent", "delivered")) as fake:
        url = receiver.url("/status")
        gateway = gateway_for(fake, status_callback=url)
        sids = send(gateway, ALICE, 3)
        fake.wait_idle()
        for sid in sids:
            calls = [c["form"] for c in receiver.received if c["form"]["MessageSid"] == sid]
            assert [c["MessageStatus"] for c in calls] == ["sent", "delivered"]
            assert all("ErrorCode" not in c for c in calls)
        for call in receiver.received:
            assert RequestValidator(fake.auth_token).validate(url, call["form"], call["headers"]["X-Twilio-Signature"])
        assert {m["status"] for m in fake.messages} == {"delivered"}
        assert all(m["date_sent"] for m in fake.messages)
        assert [c["status"] for c in fake.callbacks] == [200] * 6


def test_auto_status_survives_an_unreachable_callback() -> None:
    dead = Receiver()
    url = dead.url("/status")
    dead.close()
    with FakeTwilio(auto_status=("sent", "delivered")) as fake:
        send(gateway_for(fake, status_callback=url), ALICE, 1)
        fake.wait_idle()
        assert fake.messages[0]["status"] == "delivered"
        assert [c["status"] for c in fake.callbacks] == [None, None]
        assert all(c["error"] for c in fake.callbacks)


# --- inbound -----------------------------------------------------------------------------------------


def test_inbound_posts_a_signed_webhook(fake: FakeTwilio, receiver: Receiver) -> None:
    url = receiver.url("/twilio/inbound")
    status, text = fake.inbound(url, from_=ALICE, body="STOP", opt_out_type="STOP")
    assert (status, text) == (200, "<Response/>")
    [call] = receiver.received
    form = call["form"]
    sid = form["MessageSid"]
    assert sid.startswith("SM") and len(sid) == 34
    assert form == {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": fake.account_sid,
        "From": ALICE,
        "To": "+33700000000",
        "Body": "STOP",
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "OptOutType": "STOP",
    }
    signature = call["headers"]["X-Twilio-Signature"]
    assert RequestValidator(fake.auth_token).validate(url, form, signature)
    assert signature == twilio_signature(fake.auth_token, url, form)


def test_inbound_unsigned_or_forged(fake: FakeTwilio, receiver: Receiver) -> None:
    url = receiver.url("/twilio/inbound")
    fake.inbound(url, from_=ALICE, body="Oui, ça m'intéresse", message_sid="SM" + "1" * 32, sign=False)
    fake.inbound(url, from_=ALICE, body="OUI", signature="forged=")
    unsigned, forged = receiver.received
    assert "X-Twilio-Signature" not in unsigned["headers"]
    assert unsigned["form"]["Body"] == "Oui, ça m'intéresse"
    assert unsigned["form"]["MessageSid"] == "SM" + "1" * 32
    assert "OptOutType" not in unsigned["form"]
    assert forged["headers"]["X-Twilio-Signature"] == "forged="


def test_inbound_returns_error_answers(fake: FakeTwilio) -> None:
    refusing = Receiver(status=403)
    try:
        assert fake.inbound(refusing.url("/in"), from_=ALICE, body="OUI") == (403, "<Response/>")
    finally:
        refusing.close()
