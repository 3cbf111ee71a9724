"""The SMS send window: Monday to Saturday, 08:00-20:00 Europe/Paris, never on a French public holiday.

Weekdays worked out from 2026-01-01 being a Thursday: 2026-11-23 is a Monday, 2026-12-25 a Friday,
2026-07-14 a Tuesday, 2026-05-01 a Friday; summer time runs from 2026-03-29 to 2026-10-25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tremplin.settings import Settings
from tremplin.sms.send_window import in_send_window, is_french_holiday, next_window_open, window_from_settings

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (paris(2026, 11, 23, 9, 0), True),  # Monday morning
        (paris(2026, 11, 23, 8, 0), True),  # opens at 08:00 sharp
        (paris(2026, 11, 23, 7, 59), False),
        (paris(2026, 11, 23, 19, 59), True),
        (paris(2026, 11, 23, 20, 0), False),  # closes at 20:00
        (paris(2026, 11, 28, 12, 0), True),  # Saturday
        (paris(2026, 11, 22, 12, 0), False),  # Sunday
        (paris(2026, 12, 25, 10, 0), False),  # Noël
        (paris(2026, 7, 14, 10, 0), False),  # fête nationale
        (paris(2026, 5, 1, 10, 0), False),  # fête du travail
        (paris(2026, 5, 25, 10, 0), False),  # lundi de Pentecôte
        (paris(2026, 5, 26, 10, 0), True),  # the Tuesday after
    ],
)
def test_in_send_window(moment: datetime, inside: bool) -> None:
    assert in_send_window(moment) is inside


def test_other_timezones_are_converted() -> None:
    # 07:30 UTC on Monday 2026-11-23 is 08:30 in Paris (winter, UTC+1); 07:30 in New York is 13:30 Paris
    assert in_send_window(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))
    assert not in_send_window(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))
    new_york = datetime(2026, 11, 23, 7, 30, tzinfo=ZoneInfo("America/New_York"))
    assert in_send_window(new_york)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        in_send_window(datetime(2026, 11, 23, 9, 0))
    with pytest.raises(ValueError, match="naive"):
        next_window_open(datetime(2026, 11, 23, 9, 0))


def test_bad_window_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="hours"):
        in_send_window(paris(2026, 11, 23, 9, 0), start_hour=20, end_hour=8)
    with pytest.raises(ValueError, match="days"):
        in_send_window(paris(2026, 11, 23, 9, 0), days=())


def test_custom_window() -> None:
    monday_0830 = paris(2026, 11, 23, 8, 30)
    assert not in_send_window(monday_0830, start_hour=9)
    assert not in_send_window(monday_0830, days=(1, 2, 3))
    assert in_send_window(paris(2026, 11, 22, 12, 0), days=(6,))  # Sunday allowed on request


def test_holidays() -> None:
    assert is_french_holiday(paris(2026, 11, 11, 0, 0).date())  # Armistice
    assert not is_french_holiday(paris(2026, 11, 12, 0, 0).date())


# --- next_window_open ----------------------------------------------------------------------------


def test_inside_returns_the_moment_itself() -> None:
    moment = paris(2026, 11, 23, 9, 0)
    assert next_window_open(moment) is moment


def test_from_saturday_evening_to_monday_morning() -> None:
    opens = next_window_open(paris(2026, 11, 28, 21, 0))
    assert opens == paris(2026, 11, 30, 8, 0)
    assert opens.tzinfo == PARIS


def test_from_christmas_eve_evening_to_the_saturday_after() -> None:
    assert next_window_open(paris(2026, 12, 24, 21, 0)) == paris(2026, 12, 26, 8, 0)


def test_early_morning_opens_the_same_day() -> None:
    assert next_window_open(paris(2026, 11, 23, 6, 15)) == paris(2026, 11, 23, 8, 0)


def test_early_morning_on_a_holiday_skips_it() -> None:
    assert next_window_open(paris(2026, 7, 14, 6, 0)) == paris(2026, 7, 15, 8, 0)


def test_summer_time_is_utc_plus_two() -> None:
    opens = next_window_open(datetime(2026, 7, 15, 3, 0, tzinfo=UTC))  # 05:00 in Paris
    assert opens.utcoffset() == timedelta(hours=2)
    assert opens.astimezone(UTC) == datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
    assert in_send_window(datetime(2026, 7, 15, 6, 0, tzinfo=UTC))  # 08:00 Paris
    assert not in_send_window(datetime(2026, 7, 15, 5, 59, tzinfo=UTC))  # 07:59 Paris
    assert not in_send_window(datetime(2026, 7, 15, 18, 0, tzinfo=UTC))  # 20:00 Paris


def test_winter_time_is_utc_plus_one() -> None:
    opens = next_window_open(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    assert opens.utcoffset() == timedelta(hours=1)
    assert opens.astimezone(UTC) == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def test_across_the_spring_clock_change() -> None:
    # Saturday 2026-03-28 21:00 is UTC+1; the clocks go forward on Sunday; Monday opens at UTC+2
    opens = next_window_open(paris(2026, 3, 28, 21, 0))
    assert opens == paris(2026, 3, 30, 8, 0)
    assert opens.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)))
def test_next_window_open_is_the_first_open_instant(moment: datetime) -> None:
    opens = next_window_open(moment)
    assert opens >= moment
    assert in_send_window(opens)
    if opens != moment:
        local = opens.astimezone(PARIS)
        assert (local.hour, local.minute, local.second) == (8, 0, 0)
        assert not in_send_window(opens - timedelta(microseconds=1))
        # nothing opened in between: check every hour from the moment to the opening
        probe = moment
        while probe < opens:
            assert not in_send_window(probe)
            probe += timedelta(hours=1)


def test_window_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, timezone="Europe/Paris", send_days=(0, 1, 2), send_start_hour=9, send_end_hour=18
    )
    window = window_from_settings(settings)
    assert window == {"tz": "Europe/Paris", "days": (0, 1, 2), "start_hour": 9, "end_hour": 18}
    assert not in_send_window(paris(2026, 11, 23, 8, 30), **window)
    assert in_send_window(paris(2026, 11, 23, 9, 30), **window)
    assert next_window_open(paris(2026, 11, 25, 18, 0), **window) == paris(2026, 11, 30, 9, 0)  # Wed -> Mon
