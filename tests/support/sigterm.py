"""A pytest plugin: SIGTERM ends the session like Ctrl-C does, so fixtures tear down what they started (the
throwaway PostgreSQL server, Airflow's components, served apps) instead of leaving them running."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
