"""``tremplin serve`` as a real subprocess, for the benchmarks and the tests that need a real server."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tremplin.errors import TremplinError
from tremplin.settings import PROJECT_ROOT


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Seconds until GET /healthz answers 200; TremplinError if the server dies or stays silent."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback must not use HTTP_PROXY
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise TremplinError(f"tremplin serve exited with {process.returncode}: {_tail(log)}")
        try:
            with opener.open(f"{base_url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        time.sleep(0.05)
    raise TremplinError(f"tremplin serve did not answer /healthz within {timeout} s: {_tail(log)}")


def _tail(log: Path, chars: int = 2_000) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:].strip() or "(no output)"
    except OSError:
        return "(no output)"


@contextmanager
def serving_subprocess(home: Path, port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``tremplin serve`` as a real subprocess, stopped (terminate, then kill) however the block ends."""
    with log.open("wb") as output:
        command = [sys.executable, "-m", "tremplin", "serve", "--home", str(home)]
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
