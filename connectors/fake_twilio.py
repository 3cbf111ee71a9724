"""A local stand-in for Twilio's Messages API over real HTTP, for tests and `make bench` (never for production).

Used in tests as::

    with FakeTwilio(latency=0.05, auto_status=("sent", "delivered")) as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        fake.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
        gateway.client.messages.list(to="+33612345678", limit=100)  # list and fetch work too
        fake.wait_idle()  # the background status callbacks are done
        fake.inbound("http://127.0.0.1:8000/twilio/inbound", from_="+33612345678", body="STOP")

What it plays of Twilio:

* ``POST .../Messages.json`` creates a message (status ``queued``); with ``latency`` the message is
  recorded first and answered later, like Twilio, where a client that dies before the answer has still
  sent its message.
* ``GET .../Messages.json`` lists messages newest first with Twilio's filters (``To``, ``From``,
  ``DateSent``, ``DateSent<``, ``DateSent>``) and paging (``PageSize``, ``Page``, ``PageToken``), in the
  2010-04-01 list shape the official client pages through (``next_page_uri``).
* ``GET .../Messages/{Sid}.json`` fetches one message.
* ``set_status`` (or ``auto_status``) moves a message on and POSTs the signed status callback; ``inbound``
  POSTs a signed incoming-message webhook, as Twilio does when a person texts back.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import date
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.request_validator import RequestValidator

from tremplin.sms_text import segments

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"
CALLBACK_TIMEOUT = 10.0  # seconds, for status callbacks and inbound webhooks
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_LIST_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
# Statuses a message only reaches once Twilio has handed it to the carrier: they carry a date_sent.
_SENT_STATUSES = frozenset({"sent", "delivered", "undelivered", "read"})


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio puts on a form POST of ``params`` to ``url`` (the official function)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


class FakeTwilio:
    """A threaded HTTP server on 127.0.0.1 answering Twilio's Messages API (create, list, fetch).

    ``requests`` lists every request received (form fields, or query parameters for a GET, plus
    ``method``, ``path`` with its query string and ``auth``, the decoded basic-auth pair or None).
    ``messages`` holds the created messages as Twilio returns them, oldest first. ``callbacks`` lists the
    status callbacks posted (``url``, ``params``, ``status``: the HTTP status or None, ``error``).

    ``fail_next(status, code, message)`` queues an error answer for the next message create;
    ``stall_next(seconds)`` delays the answer to the next request of any kind (for client timeouts).
    ``latency`` delays every successful create's answer *after* the message is recorded.
    ``auto_status`` (for example ``("sent", "delivered")``) moves each created message through these
    statuses in a background thread once the create is answered; ``wait_idle()`` waits for them.
    """

    def __init__(
        self,
        account_sid: str = "AC" + "0123456789abcdef" * 2,
        auth_token: str = "fake-auth-token",
        *,
        latency: float = 0.0,
        auto_status: tuple[str, ...] = (),
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.auto_status = tuple(auto_status)
        self.requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self._faults: deque[tuple[int, int | None, str]] = deque()
        self._stalls: deque[float] = deque()
        self._lock = threading.Lock()
        self._order: dict[str, int] = {}  # sid -> creation counter (dates have one-second precision)
        self._counter = itertools.count()
        self._status_callbacks: dict[str, str] = {}  # sid -> StatusCallback URL given at creation
        self._pending = 0  # background status threads not finished yet
        self._idle = threading.Condition(self._lock)
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

    # --- fault injection ---

    def fail_next(self, status: int, code: int | None = None, message: str | None = None) -> None:
        """Answer the next valid message create with this error (queued: call several times for several).

        Lists and fetches are never failed by this.
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
            now = formatdate(usegmt=True)
            message["status"] = status
            message["error_code"] = error_code
            message["date_updated"] = now
            if status in _SENT_STATUSES and message.get("date_sent") is None:
                message["date_sent"] = now
            url = self._status_callbacks.get(sid)
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": self.account_sid,
                "From": str(message.get("from") or ""),
                "To": str(message.get("to") or ""),
                "ApiVersion": API_VERSION,
            }
        if url is None:
            return None
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        entry: dict[str, Any] = {"url": url, "params": params, "status": None, "error": None}
        try:
            entry["status"], _ = _post_form(url, params, twilio_signature(self.auth_token, url, params))
        except OSError as exc:  # URLError and socket errors: nobody answered
            entry["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._lock:
                self.callbacks.append(entry)
        return int(entry["status"])

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait until every background ``auto_status`` callback is done; TimeoutError after ``timeout`` s."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise TimeoutError(f"{self._pending} status callback thread(s) still running after {timeout} s")

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

    def _auto_status(self, sid: str) -> None:
        try:
            for status in self.auto_status:
                try:
                    self.set_status(sid, status)
                except Exception:  # recorded in self.callbacks (or the message vanished): go on like Twilio
                    continue
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    # --- handling ---

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else ""
        form = _form(raw)
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
            return
        collection, instance = _MESSAGES.match(path), _MESSAGE.match(path)
        match = collection or instance
        if match is None:
            self._error(http, 404, 20404, f"The requested resource {path} was not found")
            return
        if match["account"] != self.account_sid:
            self._error(http, 403, 20003, "Permission denied: account sid does not match credentials")
            return
        if collection is not None and http.command == "POST":
            self._create(http, form)
        elif collection is not None and http.command == "GET":
            self._list(http, path, query)
        elif instance is not None and http.command == "GET":
            self._fetch(http, path, instance["sid"])
        else:
            self._error(http, 405, 20004, "Method not allowed")

    def _create(self, http: BaseHTTPRequestHandler, form: dict[str, Any]) -> None:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            self._error(http, *fault)
            return
        if not form.get("To"):
            self._error(http, 400, 21604, "A 'To' phone number is required.")
            return
        if not (form.get("From") or form.get("MessagingServiceSid")):
            self._error(http, 400, 21603, "A 'From' phone number is required.")
            return
        if not (form.get("Body") or form.get("MediaUrl")):
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
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        answer = dict(message)  # the answer shows the message as created, whatever happens meanwhile
        auto = bool(self.auto_status)
        with self._lock:
            # Recorded before answering: a client killed during the latency has still sent the message.
            self.messages.append(message)
            self._order[sid] = next(self._counter)
            if form.get("StatusCallback"):
                self._status_callbacks[sid] = str(form["StatusCallback"])
            if auto:
                self._pending += 1  # counted now, so wait_idle() right after the 201 cannot miss it
        try:
            if self.latency > 0:
                time.sleep(self.latency)
            self._reply(http, 201, answer)
        finally:
            if auto:
                threading.Thread(target=self._auto_status, args=(sid,), name=f"fake-twilio-{sid}", daemon=True).start()

    def _list(self, http: BaseHTTPRequestHandler, path: str, query: str) -> None:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        filters = {name: params[name] for name in _LIST_FILTERS if params.get(name)}
        try:
            page_size = min(int(params.get("PageSize") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
            page = int(params.get("Page") or 0)
            if page_size < 1 or page < 0:
                raise ValueError("negative")
        except ValueError:
            self._error(http, 400, 20001, "Invalid paging parameter: PageSize and Page must be whole numbers")
            return
        try:
            dates = {name: date.fromisoformat(value[:10]) for name, value in filters.items() if name[:8] == "DateSent"}
        except ValueError:
            self._error(http, 400, 20001, "Invalid DateSent: expected YYYY-MM-DD")
            return

        with self._lock:
            ordered = sorted(
                enumerate(self.messages), key=lambda item: (self._order.get(item[1]["sid"], -1), item[0]), reverse=True
            )
            rows = [dict(m) for _, m in ordered if _matches(m, filters, dates)]

        start_index = page * page_size
        token = params.get("PageToken")
        if token:
            index = next((i for i, m in enumerate(rows) if m["sid"] == token[2:]), None)
            if index is None or token[:2] not in ("PA", "PB"):
                self._error(http, 400, 20001, f"Invalid PageToken {token}")
                return
            start_index = index + 1 if token[:2] == "PA" else max(index - page_size, 0)
        records = rows[start_index : start_index + page_size]

        def uri(page_number: int, page_token: str | None = None) -> str:
            fields = {**filters, "PageSize": str(page_size), "Page": str(page_number)}
            if page_token:
                fields["PageToken"] = page_token
            return f"{path}?{urlencode(fields)}"

        has_next = start_index + page_size < len(rows) and bool(records)
        has_previous = page > 0 and start_index > 0
        start = page * page_size
        payload = {
            "end": start + max(len(records) - 1, 0),
            "first_page_uri": uri(0),
            "messages": records,
            "next_page_uri": uri(page + 1, "PA" + records[-1]["sid"]) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": (
                uri(page - 1, "PB" + records[0]["sid"] if records else None) if has_previous else None
            ),
            "start": start,
            "uri": uri(page, token),
        }
        self._reply(http, 200, payload)

    def _fetch(self, http: BaseHTTPRequestHandler, path: str, sid: str) -> None:
        with self._lock:
            message = next((dict(m) for m in self.messages if m["sid"] == sid), None)
        if message is None:
            self._error(http, 404, 20404, f"The requested resource {path} was not found")
            return
        self._reply(http, 200, message)

    def _error(self, http: BaseHTTPRequestHandler, status: int, code: int | None, message: str) -> None:
        # Twilio's legacy error body; a null code lets tests see an error without a Twilio code.
        payload = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}" if code else None,
            "status": status,
        }
        extra = {"Retry-After": "1"} if status == 429 else {}
        self._reply(http, status, payload, extra)

    @staticmethod
    def _reply(
        http: BaseHTTPRequestHandler,
        status: int,
        payload: dict[str, Any],
        extra: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        http.send_response(status)  # buffered until end_headers
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            http.send_header(name, value)
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


def _matches(message: Mapping[str, Any], filters: Mapping[str, str], dates: Mapping[str, date]) -> bool:
    """Twilio's list filters: To and From exactly, DateSent* on the GMT day the message was sent."""
    if "To" in filters and message.get("to") != filters["To"]:
        return False
    if "From" in filters and message.get("from") != filters["From"]:
        return False
    if not dates:
        return True
    if not message.get("date_sent"):
        return False  # not sent yet: no DateSent filter matches
    sent = parsedate_to_datetime(str(message["date_sent"])).date()
    if "DateSent" in dates and sent != dates["DateSent"]:
        return False
    if "DateSent<" in dates and sent > dates["DateSent<"]:
        return False
    return not ("DateSent>" in dates and sent < dates["DateSent>"])


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
