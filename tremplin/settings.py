"""Settings: read once, at task start, into a frozen typed object and passed down.

Every field can be set by an environment variable named ``TREMPLIN_<FIELD>`` (upper case).

>>> s = Settings.from_env({"TREMPLIN_TOP_K": "5"}, data_dir=".")
>>> s.top_k
5
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import unquote, urlsplit

from tremplin.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Logs of a high-risk AI system are kept at least six months (AI Act Art. 19(1), 26(6)): no retention setting
# goes below this, and the operational store refuses to delete an audit event or a note younger than this.
RECORDS_FLOOR_DAYS = 183


def _default_data_dir() -> Path | None:
    candidate = PROJECT_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


# never written to a manifest, a log or a report: passed on to child processes by airflow_runner.settings_env
SECRETS = ("twilio_auth_token", "alert_webhook_token")
# settings that change where things are, who is told, or what the report and retention do, but no match, route
# or offer: left out of the settings hash so that the manifest's hash changes only when results can
NOT_SHAPING = frozenset(
    {
        *SECRETS,
        "data_dir",
        "home",
        "warehouse_path",
        "warehouse_memory_limit",
        "opstore_url",
        "sms_sink_path",
        "inbox_path",
        "reports_path",
        "twilio_account_sid",
        "twilio_base_url",
        "sms_status_callback",
        "public_base_url",
        "alert_target",
        "alert_smtp_host",
        "alert_smtp_port",
        "alert_from",
        "alert_timeout_seconds",
        "report_funnel_nights",
        "sms_price_per_segment",
        "sms_price_currency",
        "fairness_threshold",
        "fairness_min_group",
        "fairness_alpha",
        "override_low_rate",
        "override_min_decisions",
        "seeker_retention_days",
        "audit_retention_days",
        "manifest_retention_days",
        "quarantine_retention_days",
    }
)


# title encoders tremplin.nightly.encoder knows: "none" (lexical only) or "use" (the packaged sentence encoder)
TITLE_ENCODERS = ("none", "use")


@dataclass(frozen=True)
class Target:
    """Where alerts go: ``scheme`` is "webhook", "mailto" or "file"; ``where`` the URL, addresses or path."""

    scheme: str
    where: str

    def describe(self) -> str:
        """The target without any path or query (a webhook URL may hold a secret), for logs and errors."""
        if self.scheme == "webhook":
            parts = urlsplit(self.where)
            return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return f"{self.scheme}:{self.where}"


def parse_target(text: str) -> Target:
    """Read ``alert_target``; ConfigError naming the setting when it is not a target tremplin can send to."""
    value = text.strip()
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ConfigError(f"alert_target: {value!r} has no host")
        return Target("webhook", value)
    if scheme == "mailto":
        addresses = [a.strip() for a in unquote(parts.path).split(",") if a.strip()]
        if not addresses or not all("@" in a for a in addresses):
            raise ConfigError(f"alert_target: {value!r} needs e-mail addresses, as in mailto:ops@example.org")
        return Target("mailto", ",".join(addresses))
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(
                f"alert_target: {value!r} needs an absolute path, as in file:///var/tremplin/alerts.jsonl"
            )
        return Target("file", path)
    raise ConfigError(
        f"alert_target: unknown scheme {parts.scheme or '(none)'!r} in {value!r}; "
        "use https://…, http://…, mailto:… or file:///…"
    )


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, fixed for the whole run."""

    # where things are
    data_dir: Path = field(default_factory=lambda: _default_data_dir() or Path("data"))
    home: Path = PROJECT_ROOT / "var"
    warehouse_path: Path | None = None
    opstore_url: str | None = None
    sms_sink_path: Path | None = None
    inbox_path: Path | None = None

    # DuckDB's memory for one warehouse task ("4GB": past it DuckDB spills to disk; "none": DuckDB's default, 80 %
    # of the machine). At 5M seekers, 4GB bounds ingest but the merge of 24.2M matches cannot commit under it
    warehouse_memory_limit: str = "none"

    # matching
    top_k: int = 10
    min_score: float = 0.35
    weight_skill: float = 0.55
    weight_occupation: float = 0.25
    weight_distance: float = 0.20
    default_radius_km: float = 30.0
    max_radius_km: float = 200.0
    shortlist_per_position: int = 5
    stale_profile_days: int = 365
    # "use": add the multilingual sentence encoder to title normalization (tremplin.nightly.encoder); slower,
    # a bit better
    title_encoder: str = "none"

    # routing and caps
    rural_density_levels: tuple[int, ...] = (5, 6, 7)
    no_response_limit: int = 3
    sms_per_day: int = 1
    offers_per_week: int = 3

    # SMS
    sms_backend: str = "file"  # "file" (local sink) or "twilio"
    sms_sender: str = "TREMPLIN"
    sms_rate_per_second: float = 10.0
    sms_status_callback: str | None = None
    twilio_account_sid: str | None = field(default=None, repr=False)
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_base_url: str | None = None
    timezone: str = "Europe/Paris"
    send_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5)  # Monday..Saturday
    send_start_hour: int = 8
    send_end_hour: int = 20
    sms_offer_template: str | None = None  # None: sms_text.DEFAULT_OFFER_TEMPLATE
    sms_help_text: str | None = None  # None: sms_text.HELP_TEXT
    sms_max_attempts: int = 5
    sms_http_timeout_seconds: float = 10.0
    # A message left in "sending" (crash, timeout) is looked up at the provider only after this long, so
    # that a dispatcher still waiting for its answer is never second-guessed.
    sms_reconcile_after_seconds: float = 60.0

    # conversations (webhooks)
    public_base_url: str | None = None  # the URL Twilio calls, used to check X-Twilio-Signature
    # One question per entry, "key=question"; the seeker answers them one at a time after OUI.
    screening_questions: tuple[str, ...] = (
        "availability=Pouvez-vous commencer dans les 15 jours ? Répondez OUI ou NON.",
        "travel=Pouvez-vous vous rendre sur le lieu de travail ? Répondez OUI ou NON.",
        "hours=Les horaires du poste vous conviennent-ils ? Répondez OUI ou NON.",
    )

    # run report and its audits
    reports_path: Path | None = None  # None: <home>/reports
    report_funnel_nights: int = 7  # the funnel follows the offers of this many nights up to the report's
    sms_price_per_segment: float = 0.07  # what the provider bills per SMS segment sent
    sms_price_currency: str = "EUR"
    fairness_threshold: float = 0.8  # the four-fifths rule: a group below 80 % of the best-off group is flagged
    fairness_min_group: int = 30  # smaller groups are shown but not judged: their rates are too noisy
    fairness_alpha: float = 0.05  # a rate gap is flagged only if a z-test finds it this unlikely by chance
    override_low_rate: float = 0.02  # counsellors overriding fewer matches than this look like rubber-stamping
    override_min_decisions: int = 20  # an agency with fewer decisions is not judged

    # alerts: a failed or late nightly run (tremplin/ops/alerts.py); the late deadline is the DAG's
    # TREMPLIN_LATE_AFTER_MINUTES, read when Airflow parses the DAG file
    alert_target: str | None = None  # https://…, http://…, mailto:…, file:///…; None: logged only
    alert_webhook_token: str | None = field(default=None, repr=False)  # sent as "Authorization: Bearer …"
    alert_smtp_host: str = "localhost"
    alert_smtp_port: int = 25
    alert_from: str = "tremplin@localhost"
    alert_timeout_seconds: float = 10.0

    # retention (tremplin/ops/retention.py, docs/register.md): personal data no longer than needed (GDPR 5(1)(e)),
    # logs at least RECORDS_FLOOR_DAYS (AI Act 19, 26(6))
    seeker_retention_days: int = 730  # a seeker gone this long loses their personal data; KPIs keep pseudonyms
    quarantine_retention_days: int = 90  # rejected input lines hold raw phones and names: only to mend a feed
    audit_retention_days: int = 365  # counsellor actions and views of contact details
    manifest_retention_days: int = 365  # run manifests and per-file input counts

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.home / "warehouse.duckdb"

    @property
    def warehouse_memory(self) -> str | None:
        """``warehouse_memory_limit`` as ``Warehouse.open`` takes it."""
        return None if self.warehouse_memory_limit == "none" else self.warehouse_memory_limit

    @property
    def opstore(self) -> str:
        return self.opstore_url or f"sqlite:///{self.home / 'opstore.sqlite'}"

    @property
    def inbox(self) -> Path:
        """Inputs of the night of date D are read from ``inbox/D/``."""
        return self.inbox_path or self.home / "inbox"

    @property
    def reports(self) -> Path:
        """Run reports (HTML and JSON) are written here."""
        return self.reports_path or self.home / "reports"

    @property
    def sms_sink(self) -> Path:
        return self.sms_sink_path or self.home / "sms_sink.jsonl"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``TREMPLIN_*`` variables, then explicit overrides (CLI options)."""
        env = os.environ if env is None else env
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"TREMPLIN_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, hints[f.name], raw)
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in hints:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = _parse(name, hints[name], value) if isinstance(value, str) else value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        total = self.weight_skill + self.weight_occupation + self.weight_distance
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(f"score weights must add up to 1, got {total}")
        if self.warehouse_memory_limit != "none" and not re.fullmatch(
            r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", self.warehouse_memory_limit
        ):
            raise ConfigError(
                f"warehouse_memory_limit must read like 4GB or 512MiB, or be none, got {self.warehouse_memory_limit!r}"
            )

        if self.title_encoder not in TITLE_ENCODERS:
            raise ConfigError(f"title_encoder must be one of {', '.join(TITLE_ENCODERS)}, got {self.title_encoder!r}")
        if self.sms_backend not in ("file", "twilio"):
            raise ConfigError(f"sms_backend must be 'file' or 'twilio', got {self.sms_backend!r}")
        if not 0 <= self.min_score <= 1:
            raise ConfigError(f"min_score must be in [0, 1], got {self.min_score}")
        for entry, (key, question) in zip(self.screening_questions, self.screening, strict=True):
            if not key or not question:
                raise ConfigError(f"screening_questions: each entry must read 'key=question', got {entry!r}")
        if not 0 < self.fairness_threshold <= 1:
            raise ConfigError(f"fairness_threshold must be in (0, 1], got {self.fairness_threshold}")
        if not 0 < self.fairness_alpha <= 1:
            raise ConfigError(f"fairness_alpha must be in (0, 1], got {self.fairness_alpha}")
        if self.report_funnel_nights < 1:
            raise ConfigError(f"report_funnel_nights must be at least 1, got {self.report_funnel_nights}")
        if self.sms_max_attempts < 1:
            raise ConfigError(f"sms_max_attempts must be at least 1, got {self.sms_max_attempts}")
        # alerts
        if self.alert_target:
            parse_target(self.alert_target)
        if not 0 < self.alert_smtp_port < 65536:
            raise ConfigError(f"alert_smtp_port must be a TCP port (1 to 65535), got {self.alert_smtp_port}")
        if self.alert_timeout_seconds <= 0:
            raise ConfigError(f"alert_timeout_seconds must be positive, got {self.alert_timeout_seconds}")
        # retention
        for name in ("audit_retention_days", "manifest_retention_days"):
            if getattr(self, name) < RECORDS_FLOOR_DAYS:
                raise ConfigError(
                    f"{name} must be at least {RECORDS_FLOOR_DAYS} (six months, AI Act Art. 19 and 26(6)), "
                    f"got {getattr(self, name)}"
                )
        if self.audit_retention_days > self.seeker_retention_days:
            raise ConfigError(
                f"audit_retention_days ({self.audit_retention_days}) must not exceed seeker_retention_days "
                f"({self.seeker_retention_days}): an audit event names a seeker and must not outlive their data"
            )
        if not 1 <= self.quarantine_retention_days <= self.seeker_retention_days:
            raise ConfigError(
                f"quarantine_retention_days must be between 1 and seeker_retention_days "
                f"({self.seeker_retention_days}), got {self.quarantine_retention_days}"
            )

    @property
    def screening(self) -> list[tuple[str, str]]:
        """The screening questions as (key, question) pairs, in the order they are asked."""
        return [(k.strip(), q.strip()) for k, _, q in (e.partition("=") for e in self.screening_questions)]

    def fingerprint(self) -> str:
        """A hash of the settings that shape results (secrets and paths excluded), for the run manifest."""
        shaped = {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_SHAPING}
        blob = json.dumps(shaped, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def public_dict(self) -> dict[str, Any]:
        """The settings without secrets, for manifests and logs: no token, no password in the store's URL."""
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}
        for name in SECRETS:
            out.pop(name, None)
        if self.opstore_url:
            out["opstore_url"] = _without_password(self.opstore_url)
        return out


def _without_password(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db`` (no SQLAlchemy import here)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{location}"


def _parse(name: str, hint: Any, raw: str) -> Any:
    text = str(raw).strip()
    try:
        if hint in (Path, Path | None):
            return Path(text).expanduser()
        if hint in (int, int | None):
            return int(text)
        if hint in (float, float | None):
            return float(text)
        if hint is bool:
            return text.lower() in ("1", "true", "yes", "on")
        if hint == tuple[int, ...]:
            return tuple(int(p) for p in text.replace(" ", "").split(",") if p)
        if hint == tuple[str, ...]:
            return tuple(p.strip() for p in text.split("|") if p.strip())  # "a=Question ?|b=Other ?"
    except ValueError as exc:
        raise ConfigError(f"setting {name}: cannot read {raw!r} ({exc})") from exc
    return text
