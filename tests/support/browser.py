"""Helpers for the browser tests of the counsellor pages: Debian's chromium driven by Playwright, the review
app served by uvicorn in a background thread, screenshots under build/test-artifacts, and axe-core.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (or ``TREMPLIN_CHROMIUM``), which
``make browser`` installs; without it the tests skip and say so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from connectors.opstore import OpStore
from tests.support.review_data import PASSWORD
from tremplin.app import create_app
from tremplin.dev.serve_process import free_port, serving_in_thread
from tremplin.report.screenshot import CHROMIUM, LAUNCH_ARGS
from tremplin.settings import PROJECT_ROOT, Settings

SCREENSHOTS = PROJECT_ROOT / "build" / "test-artifacts" / "screenshots"
VIEWPORTS: dict[int, ViewportSize] = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright, closed at the end of the block (the tests' module fixtures)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when chromium is there."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return f"no chromium at {CHROMIUM}: run `make browser` (or set TREMPLIN_CHROMIUM) for the browser tests"


def serving_review(settings: Settings, store: OpStore) -> AbstractContextManager[str]:
    """The counsellor web app (no webhooks) served in a background thread on a free loopback port."""
    return serving_in_thread(create_app(settings, store=store, webhooks=False), port=free_port())


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
