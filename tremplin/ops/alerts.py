"""Alerts to ops when a nightly run fails or runs late, sent to one target, the setting ``alert_target``.

``TREMPLIN_ALERT_TARGET`` is one of:

- ``https://…`` or ``http://…``: a POST of the alert as JSON (``kind`` "failed" or "late", ``dag_id``,
  ``run_id``, ``logical_date``, ``task_id``, ``map_index``, ``try_number``, ``exception``, ``log_url``,
  ``reason``, ``at``, and ``text``, a readable summary that chat webhooks show as is), with
  ``Authorization: Bearer <token>`` when ``TREMPLIN_ALERT_WEBHOOK_TOKEN`` is set (a token holding a space,
  such as ``Basic …``, is sent as is).
  Keep secrets out of the URL: the target is recorded in the run manifest, the token is not;
- ``mailto:ops@example.org`` (several addresses separated by commas): an e-mail through the SMTP relay
  ``TREMPLIN_ALERT_SMTP_HOST``:``TREMPLIN_ALERT_SMTP_PORT`` (plain SMTP, no login), from ``TREMPLIN_ALERT_FROM``;
- ``file:///var/tremplin/alerts.jsonl``: one JSON line appended per alert (one server, the demo);
- unset: the alert is only written to the task log, as a warning.

Sending never raises: a target that cannot be reached is logged as an error together with the alert, and
Airflow still reports the task's own failure.

>>> parse_target("mailto:ops@example.org,astreinte@example.org").where
'ops@example.org,astreinte@example.org'
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tremplin import clock
from tremplin.errors import ConfigError, TremplinError
from tremplin.settings import Target, parse_target

if TYPE_CHECKING:
    from tremplin.settings import Settings

log = logging.getLogger(__name__)

EXCEPTION_CHARS = 2_000  # enough for the message and the last frames, small enough for a chat message
LATE_AFTER_VARIABLE = "TREMPLIN_LATE_AFTER_MINUTES"
LATE_AFTER_DEFAULT_MINUTES = 300


class AlertError(TremplinError):
    """An alert could not be delivered to its target."""


def late_after(raw: str | None) -> timedelta:
    """The time a nightly run has, from being queued, before ops are told it is late (DAG parse time)."""
    text = (raw or "").strip() or str(LATE_AFTER_DEFAULT_MINUTES)
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1
    if minutes <= 0:
        raise ConfigError(f"{LATE_AFTER_VARIABLE} must be a positive number of minutes, got {raw!r}")
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class Alert:
    """One thing ops must know: a run ``failed`` (at ``task_id``, when a task failed) or is ``late``."""

    kind: str
    dag_id: str
    run_id: str
    logical_date: str | None
    at: str  # when the alert was raised, ISO 8601 in the settings' time zone
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    exception: str | None = None
    log_url: str | None = None
    reason: str | None = None  # why Airflow failed the run, or the deadline that passed

    @property
    def subject(self) -> str:
        where = f" at {self.task_id}" + (f"[{self.map_index}]" if self.map_index is not None else "")
        what = f"failed{where if self.task_id else ''}" if self.kind == "failed" else "is late"
        # the night (Airflow's ds) keeps the subject short enough for one header line; the run id is below
        return f"tremplin: {self.dag_id} {what} ({self.logical_date[:10] if self.logical_date else self.run_id})"

    @property
    def text(self) -> str:
        lines = [self.subject, ""]
        for name, value in asdict(self).items():
            if value is not None and name not in ("exception", "kind"):
                lines.append(f"{name}: {value}")
        if self.exception:
            lines += ["", self.exception]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


def now_in(timezone: str) -> str:
    """The current time in ``timezone``, to the second, for ``Alert.at``."""
    return clock.now().astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def trim(text: str, limit: int = EXCEPTION_CHARS) -> str:
    """``text`` cut to ``limit`` characters: a quarter from its start (the error and the statement that
    failed), the rest from its end (a wrapped cause and its last frames)."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + "…" + text[-(limit - head - 1) :]


def send_alert(alert: Alert, settings: Settings) -> bool:
    """Deliver ``alert`` to ``settings.alert_target``; True once delivered. Never raises."""
    if not settings.alert_target:
        log.warning("no TREMPLIN_ALERT_TARGET set; alert only logged:\n%s", alert.text)
        return False
    target = None
    try:
        target = parse_target(settings.alert_target)
        deliver(alert, target, settings)
    except Exception:
        where = target.describe() if target else "alert_target"
        log.exception("ALERT NOT DELIVERED to %s; the alert was:\n%s", where, alert.text)
        return False
    log.info("alert sent to %s: %s", target.describe(), alert.subject)
    return True


def deliver(alert: Alert, target: Target, settings: Settings) -> None:
    """Send ``alert`` to ``target``; AlertError naming the target when it refuses or cannot be reached."""
    try:
        if target.scheme == "webhook":
            _post(alert, target.where, settings)
        elif target.scheme == "mailto":
            _mail(alert, target.where.split(","), settings)
        else:
            _append(alert, Path(target.where))
    except AlertError:
        raise
    except Exception as exc:
        raise AlertError(f"alert to {target.describe()} failed: {type(exc).__name__}: {exc}") from exc


def _post(alert: Alert, url: str, settings: Settings) -> None:
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "User-Agent": "tremplin-alerts"}
    token = settings.alert_webhook_token
    if token:
        headers["Authorization"] = token if " " in token.strip() else f"Bearer {token}"
    body = json.dumps(alert.as_json(), ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.alert_timeout_seconds) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        where = Target("webhook", url).describe()
        raise AlertError(f"alert to {where} refused: HTTP {exc.code} {exc.reason}") from exc


def _mail(alert: Alert, addresses: list[str], settings: Settings) -> None:
    import smtplib
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.alert_from
    message["To"] = ", ".join(addresses)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.alert_from.rpartition("@")[2] or None)
    # quoted-printable: a relay that does not offer 8BITMIME still takes accented exception text
    message.set_content(alert.text, cte="quoted-printable")
    timeout = settings.alert_timeout_seconds
    with smtplib.SMTP(settings.alert_smtp_host, settings.alert_smtp_port, timeout=timeout) as smtp:
        smtp.send_message(message)


def _append(alert: Alert, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(alert.as_json(), ensure_ascii=False) + "\n").encode()
    # one write on an O_APPEND descriptor: two tasks failing at once never interleave their lines
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def alert_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings for sending an alert: all of them, or, when another setting is bad (which may be why
    the task failed), the ``TREMPLIN_ALERT_*`` ones alone, so that the alert still goes out."""
    from tremplin.settings import Settings

    env = os.environ if env is None else env
    try:
        return Settings.from_env(env)
    except ConfigError:
        log.exception("settings unreadable; sending the alert with the TREMPLIN_ALERT_* settings alone")
        return Settings.from_env({k: v for k, v in env.items() if k.startswith("TREMPLIN_ALERT_")})
