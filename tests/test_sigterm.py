"""A test run that is terminated (SIGTERM, as `kill` or a CI timeout sends) still tears its fixtures down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tremplin.settings import PROJECT_ROOT

SESSION = """
import subprocess, time
import pytest

@pytest.fixture(scope="session")
def server(tmp_path_factory):
    child = subprocess.Popen(["sleep", "600"])
    (tmp_path_factory.getbasetemp().parent / "child.pid").write_text(str(child.pid))
    yield child
    child.terminate()
    child.wait()

def test_waits(server):
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"


def test_a_terminated_run_stops_what_its_fixtures_started(tmp_path: Path) -> None:
    (tmp_path / "test_session.py").write_text(SESSION)
    base = tmp_path / "base"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.support.sigterm",
            f"--basetemp={base}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    assert pid_file.exists(), run.communicate()[0]
    child = int(pid_file.read_text())
    assert alive(child)
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0]
    try:
        assert not alive(child), output
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
    assert "KeyboardInterrupt" in output
