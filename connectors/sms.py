"""The one gateway to SMS providers: Twilio (official client), a local file sink, and a recording fake.

Gateways send once and never retry: the dispatcher records each message before the call and decides
about retries from ``SmsError.permanent``.

>>> gateway = RecordingGateway()
>>> gateway.send(to="+33612345678", body="Bonjour", idempotency_key="k1").sid[:2]
'SM'
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tremplin import clock
from tremplin.errors import ConfigError, SmsError
from tremplin.settings import Settings

# Twilio error codes after which sending again cannot help: unsubscribed (21610), invalid or non-mobile
# number (21211, 21614), unreachable, unknown, landline, carrier-blocked or spam-filtered (30003-30007).
PERMANENT_CODES: frozenset[int] = frozenset({21610, 21211, 21614, 30003, 30004, 30005, 30006, 30007})


@dataclass(frozen=True)
class SentMessage:
    """What the provider answered: its message id and first status (``queued`` for Twilio)."""

    sid: str
    status: str


class SmsGateway(Protocol):
    """Anything that can send one SMS (raising ``SmsError`` on failure) and find one it may have sent."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage: ...

    def find(self, *, to: str, body: str, idempotency_key: str) -> SentMessage | None:
        """The message if the provider has it (a send whose answer was lost), else None."""
        ...


def sid_for_key(idempotency_key: str) -> str:
    """A Twilio-shaped message sid ("SM" + 32 hex) derived from the idempotency key."""
    return "SM" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def is_permanent(status: int | None, code: int | None) -> bool:
    """Whether an error is final: the listed Twilio codes, and every 4xx except 429."""
    if code is not None and code in PERMANENT_CODES:
        return True
    if status is None:
        return False  # no HTTP answer at all: connection error or timeout
    return 400 <= status < 500 and status != 429


# --- Twilio ----------------------------------------------------------------------------------------


class _RebasingHttpClient(TwilioHttpClient):
    """The stock requests-based client, with ``https://*.twilio.com`` rewritten to ``base_url``.

    The client builds absolute URLs (``https://api.twilio.com/2010-04-01/...``) before calling the HTTP
    client, and ``edge``/``region`` can only change the host inside ``twilio.com``, so this is the one
    place where a test or a relay can redirect it.
    """

    def __init__(self, base_url: str | None, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None

    def rebase(self, url: str) -> str:
        if self.base_url is None:
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (host == "twilio.com" or host.endswith(".twilio.com")):
            return url
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


class TwilioGateway:
    """Sends through the official ``twilio`` client (Messages API, 2010-04-01).

    ``base_url`` (for example ``http://127.0.0.1:8765``) replaces ``https://api.twilio.com``; tests point
    it at ``tremplin.dev.fake_twilio.FakeTwilio``. Twilio's Messages API has no idempotency header, so the
    idempotency key is not sent: the dispatcher's record-before-send is what prevents double texts.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        base_url: str | None = None,
        status_callback: str | None = None,
        timeout: float = 10,
    ) -> None:
        self.sender = sender
        self.status_callback = status_callback
        self.http_client = _RebasingHttpClient(base_url, timeout=timeout)
        # Pass everything explicitly: the client otherwise reads TWILIO_* variables from the environment.
        self.client = Client(account_sid, auth_token, account_sid=account_sid, http_client=self.http_client)

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        """Create one message; maps every failure to ``SmsError`` (``permanent`` tells whether to retry)."""
        try:
            message = self.client.messages.create(
                to=to,
                from_=self.sender,
                body=body,
                status_callback=self.status_callback if self.status_callback else values.unset,
            )
        except TwilioException as exc:
            # TwilioRestException (legacy error body) and TwilioServiceException (RFC 9457 body) both
            # carry status and code, but do not share a base class beyond TwilioException.
            status = _int_or_none(getattr(exc, "status", None))
            code = _int_or_none(getattr(exc, "code", None))
            code = code if code is not None else status
            detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or type(exc).__name__
            raise SmsError(
                f"twilio: HTTP {status}, code {code}: {detail} (message {idempotency_key})",
                code=code,
                permanent=is_permanent(status, code),
            ) from exc
        except requests.RequestException as exc:
            # Without an answer we cannot tell whether Twilio created the message (a read timeout or a
            # dropped connection can come after it did), so it is looked up before any new try.
            raise SmsError(
                f"twilio: no answer ({type(exc).__name__}: {exc}) (message {idempotency_key})",
                code=None,
                permanent=False,
                uncertain=True,
            ) from exc
        if not message.sid:
            raise SmsError(f"twilio: answer without a sid (message {idempotency_key})", permanent=False)
        return SentMessage(sid=str(message.sid), status=str(message.status or "queued"))

    def find(self, *, to: str, body: str, idempotency_key: str, scan: int = 50) -> SentMessage | None:
        """The newest message from our sender to ``to`` with exactly this body, among the last ``scan``.

        Twilio keeps no client key, but (to, body) identifies an offer: a seeker never gets the same
        vacancy twice and each offer's text carries its own reference number.
        """
        try:
            for message in self.client.messages.list(to=to, from_=self.sender, limit=scan, page_size=scan):
                if message.body == body and message.sid:
                    return SentMessage(sid=str(message.sid), status=str(message.status or "queued"))
        except (TwilioException, requests.RequestException) as exc:
            raise SmsError(
                f"twilio: cannot list messages to check message {idempotency_key} ({exc})", permanent=False
            ) from exc
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- local sink ------------------------------------------------------------------------------------


class FileSinkGateway:
    """Appends one JSON line per message to a local file (the demo's "provider").

    Idempotent on the key, also across instances and processes sharing the file: the file is locked,
    lines written by others since the last look are read, and a key already there returns its sid.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._index: dict[str, str] = {}
        self._offset = 0  # bytes of the file already read into the index
        self._lock = threading.Lock()

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        """Write the message unless its key is already in the file; returns the (deterministic) sid."""
        if idempotency_key in self._index:
            return SentMessage(sid=self._index[idempotency_key], status="sent")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._catch_up(handle)
                if idempotency_key in self._index:
                    return SentMessage(sid=self._index[idempotency_key], status="sent")
                sid = sid_for_key(idempotency_key)
                record = {
                    "sid": sid,
                    "to": to,
                    "body": body,
                    "idempotency_key": idempotency_key,
                    "sent_at": clock.now().isoformat(),
                }
                line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0 and not self._ends_with_newline(handle):
                    line = b"\n" + line  # a line cut by a crash stays on its own, unreadable line
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
                self._offset = handle.tell()
                self._index[idempotency_key] = sid
                return SentMessage(sid=sid, status="sent")
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def find(self, *, to: str, body: str, idempotency_key: str) -> SentMessage | None:
        """The message written under this key, if any."""
        if idempotency_key not in self.sent_keys():
            return None
        return SentMessage(sid=self._index[idempotency_key], status="sent")

    def sent_keys(self) -> set[str]:
        """Every idempotency key in the file."""
        if self.path.exists():
            with self._lock, open(self.path, "rb") as handle:
                self._catch_up(handle)
        return set(self._index)

    def _catch_up(self, handle: Any) -> None:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < self._offset:  # the file was truncated or replaced: read it again
            self._index.clear()
            self._offset = 0
        handle.seek(self._offset)
        for raw in handle.read().splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break  # a line still being written; read it next time
            self._offset += len(raw)
            try:
                record = json.loads(raw)
                self._index[str(record["idempotency_key"])] = str(record["sid"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by a crash

    @staticmethod
    def _ends_with_newline(handle: Any) -> bool:
        handle.seek(-1, os.SEEK_END)
        ends = handle.read(1) == b"\n"
        handle.seek(0, os.SEEK_END)
        return bool(ends)


# --- tests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedMessage:
    """One call to ``RecordingGateway.send``; ``sid`` is empty when the call failed."""

    to: str
    body: str
    idempotency_key: str
    sid: str


class RecordingGateway:
    """Keeps every send in memory, for tests; not idempotent, so a test can see a double send.

    ``fail_with`` maps a phone number to the ``SmsError`` raised on every send to it.
    """

    def __init__(self, fail_with: dict[str, SmsError] | None = None) -> None:
        self.fail_with = dict(fail_with or {})
        self.sent: list[RecordedMessage] = []
        self.calls: list[RecordedMessage] = []

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        """Record the message, or raise the configured error for this number."""
        error = self.fail_with.get(to)
        if error is not None:
            self.calls.append(RecordedMessage(to, body, idempotency_key, sid=""))
            raise error
        message = RecordedMessage(to, body, idempotency_key, sid=sid_for_key(idempotency_key))
        self.calls.append(message)
        self.sent.append(message)
        return SentMessage(sid=message.sid, status="queued")

    def find(self, *, to: str, body: str, idempotency_key: str) -> SentMessage | None:
        """The last message sent under this key, if any."""
        for message in reversed(self.sent):
            if message.idempotency_key == idempotency_key:
                return SentMessage(sid=message.sid, status="queued")
        return None


# --- choice ----------------------------------------------------------------------------------------


def gateway_from_settings(settings: Settings) -> SmsGateway:
    """The gateway named by ``settings.sms_backend``: ``file`` (local sink) or ``twilio``."""
    if settings.sms_backend == "file":
        return FileSinkGateway(settings.sms_sink)
    if settings.sms_backend == "twilio":
        account_sid, auth_token = settings.twilio_account_sid, settings.twilio_auth_token
        for name, value in (
            ("twilio_account_sid", account_sid),
            ("twilio_auth_token", auth_token),
            ("sms_sender", settings.sms_sender),
        ):
            if not value:
                raise ConfigError(f"sms_backend is 'twilio' but setting {name} is empty (set TREMPLIN_{name.upper()})")
        if not (account_sid and auth_token):  # unreachable; narrows the types for mypy
            raise ConfigError("twilio credentials missing")
        return TwilioGateway(
            account_sid,
            auth_token,
            settings.sms_sender,
            base_url=settings.twilio_base_url,
            status_callback=settings.sms_status_callback,
            timeout=settings.sms_http_timeout_seconds,
        )
    raise ConfigError(f"sms_backend must be 'file' or 'twilio', got {settings.sms_backend!r}")
