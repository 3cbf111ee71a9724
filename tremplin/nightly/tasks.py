"""Entry points for the Airflow tasks: read the settings once, run one step, return small counts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from connectors.warehouse import Warehouse
from tremplin import clock
from tremplin.nightly import feedback, ingest, normalize, publish, route, shards, summary
from tremplin.settings import Settings

STEPS: dict[str, Callable[[Settings, date], dict[str, Any]]] = {
    "sync_feedback": feedback.sync_feedback,
    "ingest": ingest.ingest,
    "normalize": normalize.normalize,
    "score": shards.score_in_process,
    "route": route.route_step,
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
                "finished_at": clock.now(),
                "result_json": json.dumps(result, default=str),
            },
        )
    return result


def run_step(step: str, ds: str) -> dict[str, Any]:
    """Run one nightly step for the run date ``ds`` (YYYY-MM-DD, Airflow's logical date)."""
    settings, run_date = Settings.from_env(), date.fromisoformat(ds)
    return record_step(settings, run_date, step, STEPS[step](settings, run_date))


def plan_shards(ds: str) -> list[int]:
    """Export the night's match inputs to Parquet and return the shard ids to map over."""
    return shards.plan(Settings.from_env(), date.fromisoformat(ds))


def score_shard(ds: str, shard: int) -> dict[str, Any]:
    """Score one shard from the Parquet snapshot (the warehouse stays closed)."""
    return shards.score_shard(Settings.from_env(), date.fromisoformat(ds), shard)


def merge_shards(ds: str) -> dict[str, Any]:
    """Write every shard's matches into the warehouse (the single writer); the night's score step is done."""
    settings, run_date = Settings.from_env(), date.fromisoformat(ds)
    return record_step(settings, run_date, "score", shards.merge(settings, run_date))


def run_night(settings: Settings, run_date: date, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every step in order, in this process (the CLI's ``nightly`` without Airflow); score goes shard by shard."""
    results = {}
    for step, function in STEPS.items():
        if progress:
            progress(step)
        results[step] = record_step(settings, run_date, step, function(settings, run_date))
    return results
