"""A local stand-in for Twilio's Messages API over real HTTP, for tests and `make bench` (never for production).

Used in tests as::

    with FakeTwilio(latency=0.05) as fake:
        gateway = fake.gateway(status_callback="http://127.0.0.1:8000/twilio/status")
        fake.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
        fake.set_status(fake.messages[0]["sid"], "delivered")  # POSTs the signed status callback
        fake.inbound("http://127.0.0.1:8000/twilio/inbound", from_="+33612345678", body="STOP")

What it plays of Twilio, no more than what ``connectors.sms.TwilioGateway`` and the webhooks use:

* ``POST .../Messages.json`` creates a message (status ``queued``); with ``latency`` the message is
  recorded first and answered later, like Twilio, where a client that dies before the answer has still
  sent its message.
* ``GET .../Messages.json`` lists messages newest first, filtered by ``To`` and ``From``, one page of
  ``PageSize`` (``next_page_uri`` is always null), in the 2010-04-01 list shape the official client reads.
* ``set_status`` moves a message on and POSTs the signed status callback; ``inbound`` POSTs a signed
  incoming-message webhook, as Twilio does when a person texts back.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from connectors.sms import TwilioGateway
from tremplin.sms.text import segments

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
CALLBACK_TIMEOUT = 10.0  # seconds, for status callbacks and inbound webhooks
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio puts on a form POST of ``params`` to ``url`` (the official function)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


class FakeTwilio:
    """A threaded HTTP server on 127.0.0.1 answering Twilio's Messages API (create and list).

    ``requests`` lists every request received (form fields, or query parameters for a GET, plus
    ``method``, ``path`` with its query string and ``auth``, the decoded basic-auth pair or None);
    ``posts`` only the POSTs. ``messages`` holds the created messages as Twilio returns them, oldest first.

    ``fail_next(status, code, message)`` queues an error answer for the next message create;
    ``stall_next(seconds)`` delays the answer to the next request of any kind (for client timeouts).
    ``latency`` delays every successful create's answer *after* the message is recorded.
    """

    def __init__(
        self,
        account_sid: str = "AC" + "0123456789abcdef" * 2,
        auth_token: str = "fake-auth-token",
        *,
        latency: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._faults: deque[tuple[int, int | None, str]] = deque()
        self._stalls: deque[float] = deque()
        self._lock = threading.Lock()
        self._status_callbacks: dict[str, str] = {}  # sid -> StatusCallback URL given at creation
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The POST requests received (message creates, and attempts at them), oldest first."""
        with self._lock:
            return [r for r in self.requests if r["method"] == "POST"]

    def gateway(self, sender: str = "TREMPLIN", **kwargs: Any) -> TwilioGateway:
        """A ``TwilioGateway`` with this fake's credentials, pointed at it; ``kwargs`` go to the gateway
        (``status_callback``, ``timeout``)."""
        return TwilioGateway(self.account_sid, self.auth_token, sender, base_url=self.base_url, **kwargs)

    # --- fault injection ---

    def fail_next(self, status: int, code: int | None = None, message: str | None = None) -> None:
        """Answer the next valid message create with this error (queued: call several times for several).

        Lists are never failed by this.
        """
        with self._lock:
            self._faults.append((status, code, message or f"Fake error {code or status}"))

    def stall_next(self, seconds: float) -> None:
        """Wait this long before answering the next request (of any kind)."""
        with self._lock:
            self._stalls.append(seconds)

    # --- Twilio's side: status callbacks and inbound messages ---

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> int | None:
        """Move message ``sid`` to ``status`` and POST its status callback, signed, if it was created with one.

        Returns the callback's HTTP status, or None when the message has no StatusCallback. Raises
        KeyError for an unknown sid, and ``urllib.error.URLError`` when the callback cannot be reached.
        """
        with self._lock:
            message = next((m for m in self.messages if m["sid"] == sid), None)
            if message is None:
                raise KeyError(f"no message {sid}")
            message["status"] = status
            message["error_code"] = error_code
            message["date_updated"] = formatdate(usegmt=True)
            url = self._status_callbacks.get(sid)
            parties = {"From": str(message["from"]), "To": str(message["to"])}
        if url is None:
            return None
        return self.status_callback(url, sid, status, error_code=error_code, **parties)

    def status_callback(self, url: str, sid: str, status: str, *, error_code: int | None = None, **fields: str) -> int:
        """POST a signed status callback for message ``sid`` to ``url``, as Twilio does for a message it sent."""
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            **fields,
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        status_code, _ = _post_form(url, params, twilio_signature(self.auth_token, url, params))
        return status_code

    def inbound(
        self,
        url: str,
        *,
        from_: str,
        body: str,
        to: str = "+33700000000",
        message_sid: str | None = None,
        opt_out_type: str | None = None,
        sign: bool = True,
        signature: str | None = None,
    ) -> tuple[int, str]:
        """POST Twilio's incoming-message webhook to ``url`` as if ``from_`` had texted ``body`` to ``to``.

        Signed with a valid ``X-Twilio-Signature`` unless ``sign`` is False; ``signature`` is sent verbatim
        instead when given. ``opt_out_type`` (STOP, START, HELP) is what Advanced Opt-Out adds. Returns the
        HTTP status and response text (error statuses included).
        """
        sid = message_sid or "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(segments(body)),
            "ApiVersion": API_VERSION,
        }
        if opt_out_type is not None:
            params["OptOutType"] = opt_out_type
        if signature is None and sign:
            signature = twilio_signature(self.auth_token, url, params)
        return _post_form(url, params, signature)

    # --- handling ---

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        form = _form(http.rfile.read(length).decode() if length else "")
        path, _, query = http.path.partition("?")
        record: dict[str, Any] = {
            **(_form(query) if http.command == "GET" else form),
            "method": http.command,
            "path": http.path,
            "auth": _basic_auth(http),
        }
        with self._lock:
            self.requests.append(record)
            stall = self._stalls.popleft() if self._stalls else 0.0
        if stall:
            time.sleep(stall)

        if record["auth"] != (self.account_sid, self.auth_token):
            self._error(http, 401, 20003, "Authenticate")
        elif path != f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json":
            self._error(http, 404, 20404, f"The requested resource {path} was not found")
        elif http.command == "POST":
            self._create(http, form)
        else:
            self._list(http, path, query)

    def _create(self, http: BaseHTTPRequestHandler, form: dict[str, Any]) -> None:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            self._error(http, *fault)
            return
        for field, code, what in (("To", 21604, "A 'To' phone number"), ("From", 21603, "A 'From' phone number")):
            if not form.get(field):
                self._error(http, 400, code, f"{what} is required.")
                return
        if not form.get("Body"):
            self._error(http, 400, 21602, "Message body is required.")
            return

        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True)
        body = str(form["Body"])
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "num_media": "0",
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        answer = dict(message)  # the answer shows the message as created, whatever happens meanwhile
        with self._lock:
            # Recorded before answering: a client killed during the latency has still sent the message.
            self.messages.append(message)
            if form.get("StatusCallback"):
                self._status_callbacks[sid] = str(form["StatusCallback"])
        if self.latency > 0:
            time.sleep(self.latency)
        self._reply(http, 201, answer)

    def _list(self, http: BaseHTTPRequestHandler, path: str, query: str) -> None:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            page_size = min(int(params.get("PageSize") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        except ValueError:
            page_size = 0
        if page_size < 1:
            self._error(http, 400, 20001, "Invalid PageSize: a whole number from 1 is expected")
            return
        wanted = {"to": params.get("To"), "from": params.get("From")}  # Twilio's exact-match filters
        with self._lock:  # self.messages is in creation order: newest first is the reverse
            rows = [dict(m) for m in reversed(self.messages) if all(not v or m[k] == v for k, v in wanted.items())]
        payload = {
            "messages": rows[:page_size],
            "next_page_uri": None,  # one page only: callers ask for as many rows as they need
            "page": 0,
            "page_size": page_size,
            "uri": f"{path}?{query}" if query else path,
        }
        self._reply(http, 200, payload)

    def _error(self, http: BaseHTTPRequestHandler, status: int, code: int | None, message: str) -> None:
        # Twilio's legacy error body; a null code lets tests see an error without a Twilio code.
        payload = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
            "status": status,
        }
        self._reply(http, status, payload)

    @staticmethod
    def _reply(http: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        http.send_response(status)  # buffered until end_headers
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(data)))
        try:
            http.end_headers()
            http.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeouts, a dispatcher killed mid-batch)


class _QuietServer(ThreadingHTTPServer):
    """Handler threads are daemons, and a client that went away is not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is the answer: report it rather than follow it


# No proxies (a loopback receiver must not go through HTTP_PROXY) and no redirects.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _post_form(url: str, params: Mapping[str, str], signature: str | None) -> tuple[int, str]:
    """POST ``params`` form-encoded as Twilio's webhooks do; returns (HTTP status, response text)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(url, data=urlencode(params).encode(), headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=CALLBACK_TIMEOUT) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode("utf-8", "replace")


def _form(raw: str) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _basic_auth(http: BaseHTTPRequestHandler) -> tuple[str, str] | None:
    header = http.headers.get("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password
