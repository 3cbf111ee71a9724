"""Entry points for the Airflow tasks: read the settings once, run one step, return small counts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connectors.warehouse import Warehouse
from tremplin import pipeline, publish, shard_steps, summary
from tremplin.dispatch import dispatch
from tremplin.errors import TremplinError
from tremplin.settings import Settings

STEPS: dict[str, Callable[[Settings, date], dict[str, Any]]] = {
    "sync_feedback": pipeline.sync_feedback,
    "ingest": pipeline.ingest,
    "normalize": pipeline.normalize,
    "score": shard_steps.score_in_process,
    "route": pipeline.route_step,
    "publish": publish.publish,
    "summary": lambda settings, run_date: summary.collect(settings, run_date, finish=True),
}


log = logging.getLogger(__name__)

# The steps a complete night has, in order; the run report names those with no record.
NIGHT_STEPS = tuple(STEPS)


def record_step(settings: Settings, run_date: date, step: str, result: dict[str, Any]) -> dict[str, Any]:
    """Note in the warehouse that ``step`` finished for the night (what the run report checks)."""
    with Warehouse.of(settings) as wh:
        wh.execute(
            "upsert_run_step",
            {
                "run_date": run_date,
                "step": step,
                "finished_at": datetime.now(UTC),
                "result_json": json.dumps(result, default=str),
            },
        )
    return result


def run_step(step: str, ds: str) -> dict[str, Any]:
    """Run one nightly step for the run date ``ds`` (YYYY-MM-DD, Airflow's logical date)."""
    settings, run_date = Settings.from_env(), date.fromisoformat(ds)
    return record_step(settings, run_date, step, STEPS[step](settings, run_date))


class IncompleteNight(TremplinError):
    """The night's report is written, but steps of the night are missing: the run must not look green."""


def report_night(ds: str) -> dict[str, Any]:
    """Write the night's run report (also after a failed step, to say what is missing); fail if incomplete."""
    from report import write_report

    written = write_report(Settings.from_env(), date.fromisoformat(ds), as_of=datetime.now(UTC))
    for alert in written.data["alerts"]:  # in the task's log too, where ops look first when a run is red
        log.warning("run report %s: %s", ds, alert)
    if written.missing_steps:
        raise IncompleteNight(
            f"night {ds} incomplete, missing: {', '.join(written.missing_steps)} (report: {written.html})"
        )
    return {"html": str(written.html), "json": str(written.json), "alerts": len(written.data["alerts"])}


def plan_shards(ds: str) -> list[int]:
    """Export the night's match inputs to Parquet and return the shard ids to map over."""
    return shard_steps.plan(Settings.from_env(), date.fromisoformat(ds))


def score_shard(ds: str, shard: int) -> dict[str, Any]:
    """Score one shard from the Parquet snapshot (the warehouse stays closed)."""
    return shard_steps.score_shard(Settings.from_env(), date.fromisoformat(ds), shard)


def merge_shards(ds: str) -> dict[str, Any]:
    """Write every shard's matches into the warehouse (the single writer); the night's score step is done."""
    settings, run_date = Settings.from_env(), date.fromisoformat(ds)
    return record_step(settings, run_date, "score", shard_steps.merge(settings, run_date))


def run_night(settings: Settings, run_date: date, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every step in order, in this process (the CLI's ``nightly`` without Airflow); score goes shard by shard."""
    results = {}
    for step, function in STEPS.items():
        if progress:
            progress(step)
        results[step] = record_step(settings, run_date, step, function(settings, run_date))
    return results


def dispatch_now() -> dict[str, Any]:
    """Send what is due now (the sms_dispatch DAG)."""
    return dispatch(Settings.from_env(), now=datetime.now(UTC))
