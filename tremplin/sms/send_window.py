"""When an SMS may be sent: Monday to Saturday, 08:00 to 20:00 Europe/Paris, never on a French public holiday.

Pure: the moment is always passed in, and must be timezone-aware.

>>> from datetime import datetime, UTC
>>> in_send_window(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))  # a Monday, 09:30 in Paris
True
>>> next_window_open(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)).isoformat()  # a Sunday
'2026-11-23T08:00:00+01:00'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, TypedDict
from zoneinfo import ZoneInfo

import holidays

if TYPE_CHECKING:
    from tremplin.settings import Settings

DEFAULT_TZ = "Europe/Paris"
DEFAULT_DAYS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)  # Monday..Saturday, as in datetime.weekday()
DEFAULT_START_HOUR = 8
DEFAULT_END_HOUR = 20


class SendWindow(TypedDict):
    """The keyword arguments of ``in_send_window`` and ``next_window_open``."""

    tz: str
    days: Sequence[int]
    start_hour: int
    end_hour: int


@lru_cache(maxsize=32)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year))


def is_french_holiday(day: date) -> bool:
    """True on a French public holiday (metropolitan list of the ``holidays`` package)."""
    return day in _french_holidays(day.year)


def _check(moment: datetime, days: Sequence[int], start_hour: int, end_hour: int) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"send window needs an aware datetime, got naive {moment.isoformat()}")
    if not 0 <= start_hour < end_hour <= 24:
        raise ValueError(f"send window hours need 0 <= start < end <= 24, got {start_hour}, {end_hour}")
    if not days or any(d not in range(7) for d in days):
        raise ValueError(f"send window days must be weekday numbers 0..6 (Monday=0), got {tuple(days)}")


def _open_day(day: date, days: Sequence[int]) -> bool:
    return day.weekday() in days and not is_french_holiday(day)


def in_send_window(
    moment: datetime,
    *,
    tz: str = DEFAULT_TZ,
    days: Sequence[int] = DEFAULT_DAYS,
    start_hour: int = DEFAULT_START_HOUR,
    end_hour: int = DEFAULT_END_HOUR,
) -> bool:
    """True when ``moment`` falls on an allowed day, not a holiday, in [start_hour, end_hour) local time."""
    _check(moment, days, start_hour, end_hour)
    local = moment.astimezone(ZoneInfo(tz))
    return _open_day(local.date(), days) and start_hour <= local.hour < end_hour


def next_window_open(
    moment: datetime,
    *,
    tz: str = DEFAULT_TZ,
    days: Sequence[int] = DEFAULT_DAYS,
    start_hour: int = DEFAULT_START_HOUR,
    end_hour: int = DEFAULT_END_HOUR,
) -> datetime:
    """The next instant the window opens, in ``tz``; ``moment`` itself when the window is open."""
    if in_send_window(moment, tz=tz, days=days, start_hour=start_hour, end_hour=end_hour):
        return moment
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    day = local.date() if local.hour < start_hour else local.date() + timedelta(days=1)
    for _ in range(366 * 2):  # holidays never close a whole year; this only guards the loop
        if _open_day(day, days):
            return datetime.combine(day, time(start_hour), tzinfo=zone)
        day += timedelta(days=1)
    raise ValueError(f"no send window opens within two years of {moment.isoformat()}")


def window_from_settings(settings: Settings) -> SendWindow:
    """The window keyword arguments from the settings: ``in_send_window(now, **window_from_settings(s))``."""
    return SendWindow(
        tz=settings.timezone,
        days=tuple(settings.send_days),
        start_hour=settings.send_start_hour,
        end_hour=settings.send_end_hour,
    )
