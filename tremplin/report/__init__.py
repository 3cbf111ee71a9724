"""The run report: one night at a glance for ops, as an HTML page and a JSON file beside it.

``tremplin report --run RUN`` and the last task of the nightly DAG both call :func:`write_report`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tremplin import clock
from tremplin.errors import IncompleteNight
from tremplin.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    html: Path
    json: Path
    data: dict[str, Any]

    @property
    def missing_steps(self) -> list[str]:
        return list(self.data["steps"]["missing"])


def write_report(settings: Settings, run_date: date, *, as_of: datetime, out_dir: Path | None = None) -> Report:
    """Collect the night's figures, write ``report-DATE.html`` and ``report-DATE.json``; both are replaced."""
    from tremplin.report.collect import collect
    from tremplin.report.render import render

    data = collect(settings, run_date, as_of=as_of)
    folder = out_dir or settings.reports
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"report-{run_date.isoformat()}.html"
    json_path = folder / f"report-{run_date.isoformat()}.json"
    # written beside and renamed, so a reader never sees half a page
    for path, text in ((json_path, json.dumps(data, indent=2, default=str)), (html_path, render(data))):
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return Report(html=html_path, json=json_path, data=data)


def report_night(ds: str) -> dict[str, Any]:
    """Write the night's run report (also after a failed step, to say what is missing); fail if incomplete."""
    written = write_report(Settings.from_env(), date.fromisoformat(ds), as_of=clock.now())
    for alert in written.data["alerts"]:  # in the task's log too, where ops look first when a run is red
        log.warning("run report %s: %s", ds, alert)
    if written.missing_steps:
        raise IncompleteNight(
            f"night {ds} incomplete, missing: {', '.join(written.missing_steps)} (report: {written.html})"
        )
    return {"html": str(written.html), "json": str(written.json), "alerts": len(written.data["alerts"])}
