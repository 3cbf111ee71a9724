"""Helpers for the browser tests of the counsellor pages: Debian's chromium driven by Playwright, the review
app served by uvicorn in a background thread, screenshots under build/test-artifacts, and axe-core.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (or ``TREMPLIN_CHROMIUM``), which
``make browser`` installs; without it the tests skip and say so.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Page, ViewportSize

from connectors.opstore import OpStore
from review.app import create_app
from tests.review_data import PASSWORD
from tremplin.settings import PROJECT_ROOT, Settings

CHROMIUM = Path(os.environ.get("TREMPLIN_CHROMIUM") or "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "build" / "test-artifacts" / "screenshots"
VIEWPORTS: dict[int, ViewportSize] = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when chromium is there."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return f"no chromium at {CHROMIUM}: run `make browser` (or set TREMPLIN_CHROMIUM) for the browser tests"


@contextmanager
def serving_review(settings: Settings, store: OpStore, timeout: float = 10) -> Iterator[str]:
    """The counsellor web app served by uvicorn in a background thread on a free port of 127.0.0.1; yields
    the base URL and stops the server on the way out. The socket is bound here (port 0), so no other process
    can take the port between choosing it and serving on it."""
    app = create_app(settings, store=store, webhooks=False)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="review-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the review app did not start on 127.0.0.1:{port}")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()


def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form and wait for the page it leads to."""
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under build/test-artifacts/screenshots/ (kept for a human to look at)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page: Page) -> dict[str, Any] | None:
    """None when the page does not scroll sideways; otherwise the widths and the widest elements, to say why."""
    return page.evaluate(
        """() => {
            const width = window.innerWidth;
            const scroll = document.documentElement.scrollWidth;
            if (scroll <= width + 1) return null;
            const wide = [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > width + 1)
                .slice(0, 5)
                .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                     (el.className ? '.' + String(el.className).replace(/ /g, '.') : '') +
                     ' right=' + Math.round(el.getBoundingClientRect().right));
            return {viewport: width, scrollWidth: scroll, widest: wide};
        }"""
    )


def serious_violations(response: dict[str, Any]) -> list[str]:
    """axe-core violations of impact serious or critical, one readable line per offending element."""
    found = []
    for violation in response["violations"]:
        if violation.get("impact") not in ("serious", "critical"):
            continue
        for node in violation["nodes"]:
            messages = "; ".join(check["message"] for check in node.get("any", []) + node.get("all", []))
            found.append(
                f"{violation['id']} ({violation['impact']}): {', '.join(map(str, node['target']))}: "
                f"{node.get('html', '')[:160]} -> {messages}"
            )
    return found
