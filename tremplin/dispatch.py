"""Send the SMS outbox in the allowed window, at a bounded rate, recording each message before the call.

A message moves queued -> sending (committed before the provider is called) -> sent, or failed with
its error code. A crash after the "sending" commit leaves the message in "sending": it is never sent
again blindly, and the run reports it for reconciliation with the provider. Temporary errors put the
message back in the queue with a later ``not_before``; permanent ones fail it for good.
"""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.opstore import DROPPED, FAILED, QUEUED, SENDING, SENT, OpStore
from connectors.sms import SmsGateway, gateway_from_settings
from tremplin.errors import ConfigError, SmsError
from tremplin.send_window import in_send_window, next_window_open, window_from_settings
from tremplin.settings import Settings

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=2)
# Refused credentials are a configuration problem, not the seeker's: stop the run, keep the message queued.
AUTH_ERRORS = frozenset({401, 403, 20003})


def dispatch(
    settings: Settings,
    *,
    now: datetime,
    gateway: SmsGateway | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Send what is due at ``now`` (an aware datetime); returns counts by outcome."""
    store = OpStore(settings.opstore)
    window = window_from_settings(settings)
    counts = {"sent": 0, "failed": 0, "retry_later": 0, "dropped_opted_out": 0}
    if not in_send_window(now, **window):
        waiting = store.count_by_status().get(QUEUED, 0)
        return {
            **counts,
            "in_window": False,
            "waiting": waiting,
            "next_window": next_window_open(now, **window).isoformat(),
        }
    gateway = gateway or gateway_from_settings(settings)
    interval = 1.0 / settings.sms_rate_per_second if settings.sms_rate_per_second > 0 else 0.0
    next_slot = clock.monotonic()
    for message in store.due_messages(now, limit):
        key = message["message_id"]
        if store.is_suppressed(message["to_number"]):
            store.set_status(key, DROPPED, expect=QUEUED, status_reason="opted_out")
            counts["dropped_opted_out"] += 1
            continue
        if not store.set_status(
            key, SENDING, expect=QUEUED, sending_at=datetime.now(UTC), attempts=message["attempts"] + 1
        ):
            continue  # another dispatcher took it
        wait = next_slot - clock.monotonic()
        if wait > 0:
            clock.sleep(wait)
        next_slot = max(next_slot, clock.monotonic()) + interval
        try:
            sent = gateway.send(to=message["to_number"], body=message["body"], idempotency_key=key)
        except SmsError as exc:
            if exc.code in AUTH_ERRORS:
                store.set_status(key, QUEUED, expect=SENDING, attempts=message["attempts"])
                raise ConfigError(f"the SMS provider refused the credentials ({exc}); nothing more was sent") from exc
            if exc.permanent or message["attempts"] + 1 >= MAX_ATTEMPTS:
                store.set_status(key, FAILED, expect=SENDING, error_code=exc.code, status_reason=str(exc)[:64])
                counts["failed"] += 1
            else:
                delay = RETRY_BASE * (2 ** message["attempts"])
                store.set_status(key, QUEUED, expect=SENDING, error_code=exc.code, not_before=now + delay)
                counts["retry_later"] += 1
            continue
        store.set_status(key, SENT, expect=SENDING, provider_sid=sent.sid, sent_at=datetime.now(UTC))
        counts["sent"] += 1
    status = store.count_by_status()
    return {
        **counts,
        "in_window": True,
        "waiting": status.get(QUEUED, 0),
        "unconfirmed_sending": status.get(SENDING, 0),
    }
