"""Retention, every Sunday at 14:00 Paris time: the nightly run is not writing the warehouse then, and no
SMS goes out on Sundays.

One task: personal data of seekers gone longer than ``seeker_retention_days`` is removed and what the KPIs
keep is pseudonymized; quarantine, audit events and run manifests past their periods are deleted (never
younger than six months: the operational store itself refuses). As of the run's logical date; see
``docs/register.md``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from tremplin.ops.airflow import WAREHOUSE_POOL, default_args, on_run_failure


@dag(
    dag_id="retention",
    schedule="0 14 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_seconds=600),
    on_failure_callback=on_run_failure,
    tags=["tremplin", "retention", "records"],
    doc_md=__doc__,
)
def retention() -> None:
    @task(pool=WAREHOUSE_POOL)  # the warehouse's one-slot pool (nightly_matching): never beside a nightly task
    def apply_retention(**context: Any) -> dict[str, Any]:
        from tremplin.ops.retention import retention_task

        return retention_task(context["ds"])

    apply_retention()


retention()
