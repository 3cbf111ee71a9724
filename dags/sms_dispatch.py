"""SMS dispatch: send the outbox every 10 minutes in the daytime, Monday to Saturday.

The send window (no night, no Sunday, no public holiday) is also enforced inside the task, so a run
outside it, or a manual trigger, sends nothing early.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from tremplin.ops.airflow import default_args, on_run_failure


@dag(
    dag_id="sms_dispatch",
    schedule="*/10 8-19 * * 1-6",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1, retry_delay_seconds=120),
    on_failure_callback=on_run_failure,
    tags=["tremplin", "sms"],
    doc_md=__doc__,
)
def sms_dispatch() -> None:
    @task
    def dispatch() -> dict[str, Any]:
        from tremplin.sms.dispatch import dispatch_now

        return dispatch_now()

    dispatch()


sms_dispatch()
