"""Entry points for the Airflow tasks: read the settings once, run one step, return small counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from tremplin import pipeline, shard_steps, summary
from tremplin.dispatch import dispatch
from tremplin.settings import Settings

STEPS: dict[str, Callable[[Settings, date], dict[str, Any]]] = {
    "sync_feedback": pipeline.sync_feedback,
    "ingest": pipeline.ingest,
    "normalize": pipeline.normalize,
    "score": shard_steps.score_in_process,
    "route": pipeline.route_step,
    "publish": pipeline.publish,
    "summary": lambda settings, run_date: summary.collect(settings, run_date, finish=True),
}


def run_step(step: str, ds: str) -> dict[str, Any]:
    """Run one nightly step for the run date ``ds`` (YYYY-MM-DD, Airflow's logical date)."""
    return STEPS[step](Settings.from_env(), date.fromisoformat(ds))


def plan_shards(ds: str) -> list[int]:
    """Export the night's match inputs to Parquet and return the shard ids to map over."""
    return shard_steps.plan(Settings.from_env(), date.fromisoformat(ds))


def score_shard(ds: str, shard: int) -> dict[str, Any]:
    """Score one shard from the Parquet snapshot (the warehouse stays closed)."""
    return shard_steps.score_shard(Settings.from_env(), date.fromisoformat(ds), shard)


def merge_shards(ds: str) -> dict[str, Any]:
    """Write every shard's matches into the warehouse (the single writer)."""
    return shard_steps.merge(Settings.from_env(), date.fromisoformat(ds))


def run_night(settings: Settings, run_date: date, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every step in order, in this process (the CLI's ``nightly`` without Airflow); score goes shard by shard."""
    results = {}
    for step, function in STEPS.items():
        if progress:
            progress(step)
        results[step] = function(settings, run_date)
    return results


def dispatch_now() -> dict[str, Any]:
    """Send what is due now (the sms_dispatch DAG)."""
    return dispatch(Settings.from_env(), now=datetime.now(UTC))
