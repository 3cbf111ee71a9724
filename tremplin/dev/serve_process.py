"""Serving for the demo, the benchmarks and the tests: ``tremplin serve`` as a real subprocess, or an app
served by uvicorn in a thread of this process, on a loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

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


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_in_thread(app: Any, *, port: int, host: str = "127.0.0.1", timeout: float = 10) -> Iterator[str]:
    """``app`` (an ASGI app: the webhooks, the counsellor pages) served by uvicorn in a background thread;
    yields the base URL and stops the server on the way out."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name=f"serving-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise TremplinError(f"the app did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
