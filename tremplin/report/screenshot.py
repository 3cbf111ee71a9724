"""The report as a picture: the HTML page rendered by headless Chromium (Debian's, driven by Playwright).

No network: every request that is not the report file itself is refused, and counted, so a page that
tried to fetch something would show it.
"""

from __future__ import annotations

import os
from pathlib import Path

from tremplin.errors import TremplinError

CHROMIUM = Path(os.environ.get("TREMPLIN_CHROMIUM") or "/usr/bin/chromium")
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def screenshot(html: Path, png: Path, *, width: int = 1280) -> list[str]:
    """Render ``html`` at ``width`` pixels into the full-page ``png``; returns the URLs it refused to fetch."""
    if not CHROMIUM.is_file():
        raise TremplinError(f"no chromium at {CHROMIUM}: run `make browser` (or set TREMPLIN_CHROMIUM)")
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError as exc:  # a production install without the dev extras
        raise TremplinError("the report's picture needs playwright: pip install 'tremplin[dev]'") from exc

    refused: list[str] = []
    page_url = html.resolve().as_uri()

    def only_the_page(route: Route) -> None:
        if route.request.url == page_url:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    png.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(LAUNCH_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route("**/*", only_the_page)
            page.goto(page_url)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return refused
