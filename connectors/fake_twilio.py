"""A local stand-in for Twilio's Messages API over real HTTP, for tests and `make bench` (never for production).

Used in tests as::

    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, "TREMPLIN", base_url=fake.base_url)
        fake.fail_next(400, 21211, "The 'To' number is not a valid phone number.")
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tremplin.sms_text import segments

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")


class FakeTwilio:
    """A threaded HTTP server on 127.0.0.1 answering ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

    ``requests`` lists every request received (form fields plus ``method``, ``path`` and ``auth``, the
    decoded basic-auth pair or None). ``fail_next(status, code, message)`` queues an error answer;
    ``stall_next(seconds)`` delays the next answer (for client timeouts).
    """

    def __init__(
        self,
        account_sid: str = "AC" + "0123456789abcdef" * 2,
        auth_token: str = "fake-auth-token",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._faults: deque[tuple[int, int | None, str]] = deque()
        self._stalls: deque[float] = deque()
        self._lock = threading.Lock()
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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
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
        """Answer the next valid request with this error (queued: call several times for several)."""
        with self._lock:
            self._faults.append((status, code, message or f"Fake error {code or status}"))

    def stall_next(self, seconds: float) -> None:
        """Wait this long before answering the next request."""
        with self._lock:
            self._stalls.append(seconds)

    # --- handling ---

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else ""
        form = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw, keep_blank_values=True).items()}
        record: dict[str, Any] = {
            **form,
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
        match = _MESSAGES.match(http.path)
        if http.command != "POST" or match is None:
            self._error(http, 404, 20404, f"The requested resource {http.path} was not found")
            return
        if match["account"] != self.account_sid:
            self._error(http, 403, 20003, "Permission denied: account sid does not match credentials")
            return
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
        with self._lock:
            self.messages.append(message)
        self._reply(http, 201, message)

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
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)


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
