"""Nightly matching: sync feedback, ingest, normalize, score in shards, route, publish, summary, report.

Each task calls one function of ``tremplin.nightly.tasks`` for the run's logical date; data moves between
tasks through the DuckDB warehouse, and XCom carries only small counts. Scoring is mapped over shards
(groups of départements): ``plan_shards`` exports the match inputs to Parquet and returns the shard ids
(at most 16, far below the 1,024 mapped items Airflow allows), each ``score_shard`` reads only Parquet
and writes its matches to Parquet, and ``merge_shards`` writes them into the warehouse. One run at a
time, and every task that opens the warehouse (all but ``score_shard``; read-only opens too, since DuckDB
refuses them while another process holds the file) runs in the pool ``tremplin_warehouse`` of one slot.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from tremplin.ops.airflow import WAREHOUSE_POOL, default_args, late_deadline, on_run_failure


@dag(
    dag_id="nightly_matching",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_seconds=300),
    on_failure_callback=on_run_failure,
    # ops are told when the run is still going this long after it was queued (TREMPLIN_ALERT_TARGET)
    deadline=late_deadline(os.environ.get("TREMPLIN_LATE_AFTER_MINUTES")),
    tags=["tremplin", "nightly", "matching"],
    doc_md=__doc__,
)
def nightly_matching() -> None:
    @task(pool=WAREHOUSE_POOL)
    def sync_feedback(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("sync_feedback", context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def ingest(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("ingest", context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def normalize(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("normalize", context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def plan_shards(**context: Any) -> list[int]:
        from tremplin.nightly.tasks import plan_shards

        return plan_shards(context["ds"])

    @task
    def score_shard(shard: int, **context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import score_shard

        return score_shard(context["ds"], shard)

    @task(pool=WAREHOUSE_POOL)
    def merge_shards(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import merge_shards

        return merge_shards(context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def route(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("route", context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def publish(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("publish", context["ds"])

    @task(pool=WAREHOUSE_POOL)
    def summary(**context: Any) -> dict[str, Any]:
        from tremplin.nightly.tasks import run_step

        return run_step("summary", context["ds"])

    # all_done: the report is written after a failed step too, naming what is missing, and then fails itself
    # so that the run never looks green
    @task(trigger_rule="all_done", pool=WAREHOUSE_POOL)
    def report(**context: Any) -> dict[str, Any]:
        from tremplin.report import report_night

        return report_night(context["ds"])

    normalized = sync_feedback() >> ingest() >> normalize()
    shards = plan_shards()
    normalized >> shards
    score_shard.expand(shard=shards) >> merge_shards() >> route() >> publish() >> summary() >> report()


nightly_matching()
