"""Send the SMS outbox in the allowed window, at a bounded rate, recording each message before the call.

A message moves queued -> sending (committed before the provider is called) -> sent (with the
provider's sid), then delivered or undelivered from the status callbacks; or failed, or dropped with a
reason before it went out. Exactly once, even across crashes:

- a message is claimed (queued -> sending) in its own transaction before the call, so two dispatchers
  never both send it, and a crash after the call never sends it again blindly;
- a message found in "sending" on a later run (a crash, or a call whose answer never came) is looked up
  at the provider first: found, it is recorded as sent; not found, it goes back to the queue.

Temporary errors (HTTP 429, 5xx) put a message back with a later ``not_before`` (exponential backoff) up
to ``sms_max_attempts``; permanent ones (21610, 21211, 21614, 30003-30007) fail it, mark the number and
move the offer to the seeker's counsellor.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.opstore import OpStore
from connectors.optables import DROPPED, FAILED, OPT_OUT, QUEUED, SENDING, TO_CALL, UNDELIVERABLE, UNDELIVERED
from connectors.sms import PERMANENT_CODES, SmsGateway, gateway_from_settings
from tremplin import clock
from tremplin.errors import ConfigError, SmsError
from tremplin.settings import Settings
from tremplin.sms.send_window import in_send_window, next_window_open, window_from_settings

RETRY_BASE = timedelta(minutes=2)
# Refused credentials are a configuration problem, not the seeker's: stop the run, keep the message queued.
AUTH_ERRORS = frozenset({401, 403, 20003})
OPTED_OUT_CODE = 21610


def dispatch(
    settings: Settings,
    *,
    now: datetime,
    gateway: SmsGateway | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Send what is due at ``now`` (an aware datetime; the run's clock advances from it); returns counts."""
    store = OpStore(settings.opstore)
    try:
        return _dispatch(store, settings, now=now, gateway=gateway, limit=limit)
    finally:
        store.close()


def _dispatch(
    store: OpStore, settings: Settings, *, now: datetime, gateway: SmsGateway | None, limit: int | None
) -> dict[str, Any]:
    window = window_from_settings(settings)
    gateway = gateway or gateway_from_settings(settings)
    started = time.monotonic()

    def moment() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    counts: Counter[str] = Counter(dict.fromkeys(("sent", "failed", "retry_later", "unconfirmed"), 0))
    counts.update(reconcile(store, gateway, settings, now=now))
    if not in_send_window(now, **window):
        return {
            **counts,
            "in_window": False,
            "waiting": store.count_by_status().get(QUEUED, 0),
            "next_window": next_window_open(now, **window).isoformat(),
        }
    interval = 1.0 / settings.sms_rate_per_second if settings.sms_rate_per_second > 0 else 0.0
    next_slot = time.monotonic()
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    for message in store.due_messages(now, limit):
        key = message["message_id"]
        if not in_send_window(moment(), **window):
            counts["stopped_at_window_end"] = 1
            break
        reason = store.drop_reason(message, today)
        if reason is not None:
            if store.set_status(key, DROPPED, expect=QUEUED, status_reason=reason, status_at=moment()):
                counts[f"dropped_{reason}"] += 1
            continue
        wait = next_slot - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        next_slot = max(next_slot, time.monotonic()) + interval
        attempt = message["attempts"] + 1
        if not store.set_status(key, SENDING, expect=QUEUED, sending_at=moment(), attempts=attempt):
            continue  # another dispatcher took it
        try:
            sent = gateway.send(to=message["to_number"], body=message["body"], idempotency_key=key)
        except SmsError as exc:
            counts[_failed(store, settings, message, exc, at=moment())] += 1
            continue
        _record_sent(store, key, sent.sid, moment())
        counts["sent"] += 1
    status = store.count_by_status()
    return {
        **counts,
        "in_window": True,
        "waiting": status.get(QUEUED, 0),
        "unconfirmed_sending": status.get(SENDING, 0),
    }


def _failed(store: OpStore, settings: Settings, message: Mapping[str, Any], exc: SmsError, *, at: datetime) -> str:
    """Record a failed call; returns the outcome counted."""
    key, attempt = message["message_id"], message["attempts"] + 1
    if exc.code in AUTH_ERRORS:
        store.set_status(key, QUEUED, expect=SENDING, attempts=message["attempts"])
        raise ConfigError(f"the SMS provider refused the credentials ({exc}); nothing more was sent") from exc
    if exc.uncertain:
        # Left in "sending": the next run looks it up before anything is sent again.
        store.set_status(key, SENDING, expect=SENDING, status_reason="no_answer")
        return "unconfirmed"
    if exc.permanent:
        mark_number(store, message["to_number"], exc.code, at=at)
        _give_up(store, message, code=exc.code, reason=f"sms_error_{exc.code}", at=at)
        return "failed"
    if attempt >= settings.sms_max_attempts:
        _give_up(store, message, code=exc.code, reason="sms_retries_exhausted", at=at)
        return "failed"
    delay = RETRY_BASE * (2 ** message["attempts"])
    store.set_status(key, QUEUED, expect=SENDING, error_code=exc.code, status_reason="retry", not_before=at + delay)
    return "retry_later"


def _give_up(store: OpStore, message: Mapping[str, Any], *, code: int | None, reason: str, at: datetime) -> None:
    """The SMS will not go out: fail it and hand the offer to the seeker's counsellor."""
    store.set_status(message["message_id"], FAILED, expect=SENDING, error_code=code, status_reason=reason, status_at=at)
    store.queue_offer(message, queue=TO_CALL, reason=reason, at=at)


def mark_number(store: OpStore, phone: str, code: int | None, *, at: datetime) -> None:
    """21610: the seeker unsubscribed at the carrier (an opt-out); other permanent codes: undeliverable."""
    kind = OPT_OUT if code == OPTED_OUT_CODE else UNDELIVERABLE
    store.suppress(phone, reason=f"twilio_{code}", source="twilio", now=at, kind=kind)


def _record_sent(store: OpStore, key: str, sid: str, at: datetime) -> None:
    """Record the sid, then the status callbacks that reached us before it (a fast provider)."""
    if store.record_sent(key, sid, at):
        for status, code in store.status_events(sid):
            apply_provider_status(store, sid, status, code, at)


def apply_provider_status(store: OpStore, sid: str, status: str, code: int | None, at: datetime) -> None:
    """Move the message forward; a permanent delivery error marks the number and hands the offer to a
    counsellor, as a permanent error at the call does."""
    moved = store.apply_status(sid, status, code, at)
    if moved is not None and status in (UNDELIVERED, FAILED) and code in PERMANENT_CODES:
        mark_number(store, moved["to_number"], code, at=at)
        store.queue_offer(moved, queue=TO_CALL, reason=f"sms_error_{code}", at=at)


def record_status_callback(store: OpStore, *, sid: str, status: str, error_code: int | None, at: datetime) -> bool:
    """A provider status callback: stored once (False for a replay, which changes nothing), then applied."""
    added = store.record_status_event(sid, status, error_code, at)
    if added:
        apply_provider_status(store, sid, status, error_code, at)
    return added


def reconcile(store: OpStore, gateway: SmsGateway, settings: Settings, *, now: datetime) -> Counter[str]:
    """Settle messages left in "sending": found at the provider -> sent; not found -> queued again."""
    counts: Counter[str] = Counter()
    stale_before = now - timedelta(seconds=settings.sms_reconcile_after_seconds)
    for message in store.unconfirmed_messages(stale_before):
        key = message["message_id"]
        try:
            found = gateway.find(to=message["to_number"], body=message["body"], idempotency_key=key)
        except SmsError:
            counts["reconcile_unreachable"] += 1
            continue  # cannot tell: leave it in "sending" rather than risk a double text
        if found is not None:
            _record_sent(store, key, found.sid, now)
            counts["reconciled_sent"] += 1
        elif message["attempts"] >= settings.sms_max_attempts:
            _give_up(store, message, code=message["error_code"], reason="sms_retries_exhausted", at=now)
            counts["failed"] += 1
        else:
            store.set_status(key, QUEUED, expect=SENDING, status_reason="not_received", not_before=now)
            counts["reconciled_requeued"] += 1
    return counts


def dispatch_now() -> dict[str, Any]:
    """Send what is due now (the sms_dispatch DAG)."""
    return dispatch(Settings.from_env(), now=clock.now())
