"""tremplin.clock: the wall clock read in one place, moved by tests, shifted by the demo's replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tremplin import clock


def test_now_is_the_moment_tests_travel_to() -> None:
    moment = datetime(2027, 12, 6, 1, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        assert clock.now() == moment
    assert clock.now().tzinfo is not None


def test_a_shifted_clock_starts_at_its_moment_and_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    night = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, tzinfo=UTC), tick=False) as traveller:
        monkeypatch.setenv(clock.SHIFT, clock.shift_to(night)[clock.SHIFT])
        assert clock.now() == night
        traveller.shift(timedelta(minutes=90))
        assert clock.now() == night + timedelta(minutes=90)


def test_a_replayed_moment_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        clock.shift_to(datetime(2026, 11, 23, 2, 0))


def test_production_code_reads_the_wall_clock_only_through_tremplin_clock() -> None:
    """A second reader of the wall clock would escape the tests' clock: none in the production rooms."""
    from tests.test_layout import MODULES, room

    readers = []
    for module, path in MODULES.items():
        if room(module) in ("tremplin.dev", "tremplin.bench", "tremplin.clock"):
            continue  # dev helpers and benchmarks time things; tremplin.clock is the one reader
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if call in text:
                readers.append(f"{module}: {call}")
    assert readers == []
