"""The run report in Debian's chromium, offline: charts drawn, nothing fetched, no sideways scroll, no axe
violation, and screenshots kept under build/test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from connectors.reference import Reference
from tests.conftest import REAL_OFFERS
from tests.support.browser import (
    SCREENSHOTS,
    VIEWPORTS,
    chromium_missing,
    horizontal_overflow,
    launched_chromium,
    serious_violations,
)
from tremplin.dev.generate import generate
from tremplin.nightly import tasks
from tremplin.report import Report, write_report
from tremplin.report.screenshot import screenshot
from tremplin.settings import Settings
from tremplin.sms.dispatch import dispatch

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")
MONDAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path) -> Report:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path_factory.mktemp("report"), sms_rate_per_second=0)
    day = settings.inbox / MONDAY.isoformat()
    generate(reference, seekers=2_000, vacancies=600, seed=5, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    tasks.run_night(settings, MONDAY)
    dispatch(settings, now=datetime(2026, 11, 23, 8, tzinfo=UTC))
    return write_report(settings, MONDAY, as_of=datetime(2026, 11, 23, 18, tzinfo=UTC))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.mark.parametrize("width", [1280, 390])
def test_report_renders_offline_readable_and_accessible(written: Report, browser: Browser, width: int) -> None:
    context = browser.new_context(viewport=VIEWPORTS[width], locale="fr-FR")
    fetched: list[str] = []
    context.on("request", lambda request: fetched.append(request.url))
    page = context.new_page()
    page.goto(written.html.as_uri())
    assert fetched == [written.html.as_uri()]  # the page alone: no stylesheet, script, font or image to fetch
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 10
    for i in range(charts.count()):
        chart = charts.nth(i)
        name = chart.locator("title").text_content() or ""
        assert name.strip()  # each chart has a name a screen reader reads
        box = chart.bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 40, name
    assert page.get_by_role("heading", name="Nuit du 2026-11-23").is_visible()
    assert page.get_by_role("heading", name="Équité").is_visible()
    assert horizontal_overflow(page) is None
    problems = serious_violations(Axe().run(page).response)
    assert problems == [], "\n".join(problems)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"report-{width}.png"), full_page=True)
    context.close()


def test_the_picture_is_rendered_with_nothing_fetched(written: Report, tmp_path: Path) -> None:
    # in a process of its own: Playwright's sync API does not nest in the browser fixture's
    png = tmp_path / "report.png"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        refused = pool.submit(screenshot, written.html, png).result(timeout=120)
    assert refused == []
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
