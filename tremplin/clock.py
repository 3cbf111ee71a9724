"""The one place production code reads the wall clock.

Everything else takes "now" from its caller; the entry points (CLI commands, Airflow tasks, the web app)
ask this function. Tests move it with time-machine, so the suite passes on any day.

>>> now().tzinfo is not None
True
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current moment, timezone-aware, in UTC."""
    return datetime.now(UTC)
