"""The one place production code reads the wall clock.

Everything else takes "now" from its caller; the entry points (CLI commands, Airflow tasks, the web app)
ask this function. Tests move it with time-machine (or every process's clock with ``make test-later``), so
the suite passes on any day. ``TREMPLIN_CLOCK_SHIFT_SECONDS`` moves it for a whole tree of processes: the
demo replays a past night with it (Airflow's task processes read the same shifted clock). Never set it in
production.

>>> now().tzinfo is not None
True
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

SHIFT = "TREMPLIN_CLOCK_SHIFT_SECONDS"


def now() -> datetime:
    """The current moment, timezone-aware, in UTC."""
    shift = os.environ.get(SHIFT)
    return datetime.now(UTC) + (timedelta(seconds=float(shift)) if shift else timedelta(0))


def shift_to(moment: datetime) -> dict[str, str]:
    """The environment that makes ``now()`` read ``moment`` at this instant, and run on from there.

    >>> from datetime import timezone
    >>> env = shift_to(datetime(2026, 11, 23, 2, 0, tzinfo=timezone(timedelta(hours=1))))
    >>> float(env[SHIFT]) < 0
    True
    """
    if moment.tzinfo is None:
        raise ValueError(f"a replayed moment carries its UTC offset, got {moment.isoformat()}")
    return {SHIFT: repr((moment - datetime.now(UTC)).total_seconds())}
