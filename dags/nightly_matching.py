"""Nightly matching: ingest, normalize, score, route, publish, summary.

Each task calls one function of ``tremplin.tasks`` for the run's logical date; data moves between
tasks through the DuckDB warehouse, and XCom carries only small counts. One run at a time, so one
writer holds the warehouse at a time.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

# Retries are the operators' setting (environment, read without I/O); tests shorten the delay.
DEFAULT_ARGS = {
    "owner": "tremplin-ops",
    "retries": int(os.environ.get("TREMPLIN_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=float(os.environ.get("TREMPLIN_RETRY_DELAY_SECONDS", "300"))),
}


@dag(
    dag_id="nightly_matching",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["tremplin", "nightly", "matching"],
    doc_md=__doc__,
)
def nightly_matching() -> None:
    @task
    def ingest(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("ingest", context["ds"])

    @task
    def normalize(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("normalize", context["ds"])

    @task
    def score(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("score", context["ds"])

    @task
    def route(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("route", context["ds"])

    @task
    def publish(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("publish", context["ds"])

    @task
    def summary(**context: Any) -> dict[str, Any]:
        from tremplin.tasks import run_step

        return run_step("summary", context["ds"])

    ingest() >> normalize() >> score() >> route() >> publish() >> summary()


nightly_matching()
