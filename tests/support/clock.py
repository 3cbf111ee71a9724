"""The moments tests play: a test never depends on today's date.

Steps that stamp rows (publish, the run manifest, finished steps) read ``tremplin.clock.now()``; a test that
plays the night of a fixed date runs them inside ``time_machine.travel(night_of(day))``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def night_of(run_date: date) -> datetime:
    """02:00 in Paris on ``run_date``: when the nightly DAG runs the night whose offers go out that day.

    >>> night_of(date(2026, 11, 23)).isoformat()
    '2026-11-23T02:00:00+01:00'
    """
    return datetime.combine(run_date, time(2), tzinfo=PARIS)
