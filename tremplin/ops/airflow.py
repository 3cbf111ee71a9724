"""Airflow's side of the alerts: the failure callbacks and the late-run deadline the DAG files declare.

One alert per failure:

- ``on_task_failure`` (every task, through ``default_args``) runs once a task has failed for good, after
  its last retry (a retry calls ``on_retry_callback``, which tremplin leaves unset). Its alert names the
  task, the try and the exception. Airflow also calls it, from the DAG processor, for a task killed from
  outside (out of memory, lost heartbeat), then without an exception. A task that runs whatever its
  upstream did (the nightly ``report``, trigger rule ``all_done``) and fails after an upstream failure
  sends nothing: that failure was the cause, and it has alerted already.
- ``on_run_failure`` (the DAG) runs when the run fails. A run failed by a failed task was already reported
  by ``on_task_failure``, so it only alerts for runs failed for another reason (a deadlock, a run timeout).
- ``late_deadline`` is the run's Deadline Alert (Airflow 3.1+, the successor of SLAs): the scheduler calls
  ``notify_late`` when the run is still unfinished that long after it was queued. Airflow 3.3 keeps the
  deadline of a run that failed early (apache/airflow#60927), so ``notify_late`` stays silent when the run
  has already failed: its failure alert said it all.

Every callback catches everything: a failure to notify is logged and never hides the task's own failure.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tremplin.ops.alerts import Alert, alert_settings, late_after, now_in, send_alert, trim

if TYPE_CHECKING:
    from airflow.sdk.definitions.deadline import DeadlineAlert

log = logging.getLogger(__name__)

FINISHED = ("success", "failed")

# One slot (tremplin.dev.airflow_runner creates it): DuckDB holds a file lock per process, so the tasks that open
# the warehouse, read-only or not, take turns; the shards, which read Parquet only, run beside each other.
WAREHOUSE_POOL = "tremplin_warehouse"


def default_args(*, retries: int, retry_delay_seconds: float) -> dict[str, Any]:
    """A DAG's ``default_args``: its owner, the failure alert and its retries.

    Retries are the operators' setting: ``TREMPLIN_TASK_RETRIES`` and ``TREMPLIN_RETRY_DELAY_SECONDS`` (read
    from the environment, no I/O; tests shorten the delay) override the DAG's own ``retries`` and
    ``retry_delay_seconds``.
    """
    return {
        "owner": "tremplin-ops",
        "retries": int(os.environ.get("TREMPLIN_TASK_RETRIES", retries)),
        "retry_delay": timedelta(seconds=float(os.environ.get("TREMPLIN_RETRY_DELAY_SECONDS", retry_delay_seconds))),
        "on_failure_callback": on_task_failure,  # once a task has failed after its retries: alert ops
    }


def on_task_failure(context: Any) -> None:
    """Task-level ``on_failure_callback``: one "failed" alert for a task that failed after its retries."""
    try:
        ti = context["ti"]
        if _follows_a_failure(ti):
            log.info("%s failed after an upstream failure, which alerted ops already; no second alert", ti.task_id)
            return
        settings = alert_settings()
        error = context.get("exception")
        map_index = getattr(ti, "map_index", None)
        alert = Alert(
            kind="failed",
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            logical_date=_iso(getattr(context.get("dag_run"), "logical_date", None)),
            at=now_in(settings.timezone),
            task_id=ti.task_id,
            map_index=map_index if map_index is not None and map_index >= 0 else None,
            try_number=getattr(ti, "try_number", None),
            exception=trim(_describe(error)) if error else "no exception recorded (task killed or lost)",
            log_url=getattr(ti, "log_url", None),
        )
        send_alert(alert, settings)
    except Exception:
        log.exception("the failure alert could not be prepared or sent")


def on_run_failure(context: Any) -> None:
    """DAG-level ``on_failure_callback``: an alert only when no failed task has sent one."""
    try:
        reason = context.get("reason")
        if reason == "task_failure":
            log.info("run failed by a task failure; that task's alert already went to ops")
            return
        settings = alert_settings()
        dag_run = context.get("dag_run")
        ti = context.get("ti")
        alert = Alert(
            kind="failed",
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
            logical_date=_iso(getattr(dag_run, "logical_date", None)),
            at=now_in(settings.timezone),
            task_id=getattr(ti, "task_id", None),
            reason=reason,
            log_url=getattr(ti, "log_url", None),
        )
        send_alert(alert, settings)
    except Exception:
        log.exception("the run failure alert could not be prepared or sent")


def notify_late(context: dict[str, Any], minutes: float | None = None) -> None:
    """Deadline callback: a "late" alert when the run is still unfinished at its deadline.

    ``context`` is what the scheduler hands a deadline callback: ``dag_run`` (the run as the REST API
    shows it) and ``deadline`` (``deadline_time``).
    """
    try:
        run = context.get("dag_run") or {}
        if run.get("state") in FINISHED:
            log.info(
                "deadline passed for %s, which already ended %s; no late alert", run.get("dag_run_id"), run["state"]
            )
            return
        settings = alert_settings()
        deadline = (context.get("deadline") or {}).get("deadline_time")
        after = f" ({minutes:g} minutes after it was queued at {run.get('queued_at')})" if minutes else ""
        alert = Alert(
            kind="late",
            dag_id=str(run.get("dag_id")),
            run_id=str(run.get("dag_run_id")),
            logical_date=_iso(run.get("logical_date")),
            at=now_in(settings.timezone),
            reason=f"not finished by its deadline {_iso(deadline)}{after}; state {run.get('state')}",
        )
        send_alert(alert, settings)
    except Exception:
        log.exception("the late alert could not be prepared or sent")


def late_deadline(raw_minutes: str | None) -> DeadlineAlert | None:
    """The run must finish within ``raw_minutes`` (``TREMPLIN_LATE_AFTER_MINUTES``) of being queued.

    A SyncCallback runs in the scheduler's executor, so no triggerer is needed. ``off`` declares no
    deadline: ``airflow dags test`` in Airflow 3.3 crashes at the end of a successful run of a DAG that
    has one (``DagRun.update_state`` looks the alert up by the unserialized object instead of its id), so
    the demo and the tests run it without.
    """
    if (raw_minutes or "").strip().lower() == "off":
        return None
    # imported here, so that the runner and the DAG files read WAREHOUSE_POOL and default_args without Airflow's
    # set-up; the definition modules, not airflow.sdk: its type stub (3.3.2) omits the deadline classes
    from airflow.sdk.definitions.callback import SyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    interval = late_after(raw_minutes)
    minutes = interval.total_seconds() / 60
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=interval,
        callback=SyncCallback(notify_late, kwargs={"minutes": minutes}),
        name="late",
    )


def _follows_a_failure(ti: Any) -> bool:
    """True when ``ti`` runs whatever its upstream did and an upstream task of its run failed."""
    task = getattr(ti, "task", None)
    rule = getattr(task, "trigger_rule", "all_success")
    if task is None or getattr(rule, "value", rule) == "all_success" or not task.upstream_task_ids:
        return False
    try:
        failed = ti.get_ti_count(
            dag_id=ti.dag_id,
            task_ids=sorted(task.upstream_task_ids),
            run_ids=[ti.run_id],
            states=["failed", "upstream_failed"],
        )
    except Exception:
        log.warning("could not read the upstream states of %s; alerting anyway", ti.task_id, exc_info=True)
        return False
    return bool(failed)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _describe(error: Any) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
