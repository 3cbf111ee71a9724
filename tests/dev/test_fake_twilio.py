"""The fake Twilio against the official client: create, list, latency, status callbacks and inbound webhooks."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator

from connectors.sms import TwilioGateway
from tremplin.dev.fake_twilio import FakeTwilio
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


def send(gateway: TwilioGateway, to: str, n: int) -> list[str]:
    return [gateway.send(to=to, body=f"offre {i}", idempotency_key=f"{to}:{i}").sid for i in range(n)]


def get(fake: FakeTwilio, path: str, **params: str) -> requests.Response:
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/{path}"
    return requests.get(url, params=params, auth=(fake.account_sid, fake.auth_token), timeout=5)


# --- create and list -----------------------------------------------------------------------------


def test_gateway_helper_sends_as_tremplin_with_the_fake_credentials(fake: FakeTwilio) -> None:
    gateway = fake.gateway(status_callback="http://127.0.0.1:9/status", timeout=3)
    assert (gateway.sender, gateway.status_callback, gateway.http_client.timeout) == (
        SENDER,
        "http://127.0.0.1:9/status",
        3,
    )
    [sid] = send(gateway, ALICE, 1)
    [post] = fake.posts
    assert (post["From"], post["To"], post["StatusCallback"]) == (SENDER, ALICE, "http://127.0.0.1:9/status")
    assert post["auth"] == (fake.account_sid, fake.auth_token)
    assert [m["sid"] for m in fake.messages] == [sid]


def test_posts_leaves_the_lists_out(fake: FakeTwilio) -> None:
    gateway = fake.gateway()
    send(gateway, ALICE, 1)
    gateway.client.messages.list(to=ALICE)
    send(gateway, BOB, 1)
    assert [r["method"] for r in fake.requests] == ["POST", "GET", "POST"]
    assert [r["To"] for r in fake.posts] == [ALICE, BOB]


@pytest.mark.parametrize(
    ("missing", "code"),
    [("To", 21604), ("From", 21603), ("Body", 21602)],
)
def test_create_needs_to_from_and_body(fake: FakeTwilio, missing: str, code: int) -> None:
    form = {"To": ALICE, "From": SENDER, "Body": "Bonjour"}
    del form[missing]
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    refused = requests.post(url, data=form, auth=(fake.account_sid, fake.auth_token), timeout=5)
    assert (refused.status_code, refused.json()["code"]) == (400, code)
    assert fake.messages == []


def test_list_filters_by_to_and_from_newest_first(fake: FakeTwilio) -> None:
    gateway = fake.gateway()
    alice = send(gateway, ALICE, 3)
    [bob] = send(gateway, BOB, 1)
    [other] = send(fake.gateway(sender="AUTRE"), ALICE, 1)
    listed = gateway.client.messages.list(to=ALICE)
    assert [m.sid for m in listed] == [other, *alice[::-1]]
    assert {m.to for m in listed} == {ALICE}
    created = listed[0].date_created
    assert created is not None and created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert abs(time.time() - created.timestamp()) < 60
    assert [m.sid for m in gateway.client.messages.list(from_=SENDER)] == [bob, *alice[::-1]]
    assert [m.sid for m in gateway.client.messages.list(to=ALICE, from_=SENDER)] == alice[::-1]
    assert gateway.client.messages.list(to="+33600000000") == []


def test_list_is_one_page_of_page_size(fake: FakeTwilio) -> None:
    sids = send(fake.gateway(), ALICE, 3)
    first = get(fake, "Messages.json", To=ALICE, PageSize="2")
    assert first.status_code == 200
    payload = first.json()
    assert [m["sid"] for m in payload["messages"]] == [sids[2], sids[1]]  # the two newest
    assert payload["next_page_uri"] is None
    assert (payload["page"], payload["page_size"]) == (0, 2)
    assert get(fake, "Messages.json", PageSize="many").status_code == 400
    assert get(fake, "Messages.json", PageSize="0").status_code == 400


def test_list_with_wrong_token_is_401(fake: FakeTwilio) -> None:
    send(fake.gateway(), ALICE, 1)
    client = TwilioGateway(fake.account_sid, "wrong-token", SENDER, base_url=fake.base_url).client
    # a refused page is a bare TwilioException("Unable to fetch page", response), not a TwilioRestException
    with pytest.raises(TwilioException) as listing:
        client.messages.list(to=ALICE)
    assert not isinstance(listing.value, TwilioRestException)
    _, response = listing.value.args
    assert (response.status_code, json.loads(response.text)["code"]) == (401, 20003)


def test_faults_only_hit_creates(fake: FakeTwilio) -> None:
    gateway = fake.gateway()
    fake.fail_next(500, None, "boom")
    assert gateway.client.messages.list() == []  # the GET does not consume the fault
    with pytest.raises(SmsError):
        gateway.send(to=ALICE, body="Bonjour", idempotency_key="k")
    assert fake.messages == []


def test_unknown_paths_are_404(fake: FakeTwilio) -> None:
    assert get(fake, "Calls.json").status_code == 404
    [sid] = send(fake.gateway(), ALICE, 1)
    assert get(fake, f"Messages/{sid}.json").json()["code"] == 20404  # no fetch by sid: nothing uses it
    other_account = f"{fake.base_url}/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    assert requests.get(other_account, auth=(fake.account_sid, fake.auth_token), timeout=5).status_code == 404


# --- latency ----------------------------------------------------------------------------------------


def test_message_is_recorded_before_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeTwilio(latency=0.6) as fake:
        impatient = fake.gateway(timeout=0.2)
        with pytest.raises(SmsError) as info:
            impatient.send(to=ALICE, body="Bonjour", idempotency_key="k")
        assert info.value.permanent is False
        # the client gave up before the 201, but the message exists: Twilio will deliver it
        assert [m["to"] for m in fake.messages] == [ALICE]
        time.sleep(0.8)  # the server answers a client that is gone: no noise
    assert capsys.readouterr().err == ""


def test_latency_delays_the_answer_not_the_record() -> None:
    with FakeTwilio(latency=0.5) as fake:
        gateway = fake.gateway()
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
    [sid] = send(fake.gateway(status_callback=url), ALICE, 1)

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
    assert (fake.messages[0]["status"], fake.messages[0]["error_code"]) == ("undelivered", 30003)


def test_status_without_callback_url_moves_the_message_only(fake: FakeTwilio) -> None:
    [sid] = send(fake.gateway(), ALICE, 1)
    assert fake.set_status(sid, "sent") is None
    assert fake.messages[0]["status"] == "sent"
    with pytest.raises(KeyError):
        fake.set_status("SM" + "f" * 32, "sent")


def test_status_callback_answer_is_returned(fake: FakeTwilio) -> None:
    refusing = Receiver(status=403)
    try:
        [sid] = send(fake.gateway(status_callback=refusing.url("/status")), ALICE, 1)
        assert fake.set_status(sid, "sent") == 403
    finally:
        refusing.close()


def test_unreachable_status_callback_raises_after_moving_the_message(fake: FakeTwilio) -> None:
    dead = Receiver()
    url = dead.url("/status")
    dead.close()  # nothing listens there any more
    [sid] = send(fake.gateway(status_callback=url), ALICE, 1)
    with pytest.raises(urllib.error.URLError):
        fake.set_status(sid, "delivered")
    assert fake.messages[0]["status"] == "delivered"


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
