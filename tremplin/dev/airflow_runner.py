"""Run the real Airflow DAGs against a project-local AIRFLOW_HOME.

Two ways:

- :func:`run_dag` (``make demo``, most end-to-end tests): ``airflow db migrate`` once on a SQLite metadata
  database, then ``airflow dags test``, which runs every task of one DAG run in this process's Airflow, one
  after the other. It ignores pools (a task in a pool that does not exist runs all the same, checked on 3.3.2),
  so it needs no pool set up.
- :class:`LocalAirflow` (the parallel-shards test, ``tremplin bench --airflow``): Airflow's own components as
  in production, small. The metadata database on the URL given (PostgreSQL through psycopg 3), the pool
  ``tremplin_warehouse`` with one slot, then ``airflow api-server`` (only the Task Execution API, which the
  workers talk to), ``airflow dag-processor`` and ``airflow scheduler`` with the LocalExecutor and
  ``parallelism`` worker processes. A run is triggered for an explicit logical date, waited for, and read back
  from the metadata database (states, start and end of every task instance); everything stops on the way
  out, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa

from tremplin.dev.serve_process import free_port
from tremplin.errors import TremplinError
from tremplin.ops.airflow import WAREHOUSE_POOL
from tremplin.settings import PROJECT_ROOT, SECRETS, Settings

DAGS_FOLDER = PROJECT_ROOT / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_env(airflow_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow command: local home, our DAGs only, low parallelism for 2 cores."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
    )
    env.update(extra or {})
    return env


def _airflow(args: list[str], env: Mapping[str, str], log: Path, *, timeout: float | None = None) -> None:
    command = [AIRFLOW, *args]
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        try:
            done = subprocess.run(
                command, env=dict(env), stdout=handle, stderr=subprocess.STDOUT, check=False, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise TremplinError(f"airflow {' '.join(args)} still running after {timeout:g} s; see {log}") from None
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise TremplinError(f"airflow {' '.join(args)} failed (exit {done.returncode}); see {log}:\n" + "\n".join(tail))


def run_dag(dag_id: str, run_date: str, *, airflow_home: Path, extra_env: Mapping[str, str] | None = None) -> Path:
    """Migrate the metadata database if needed, then run one DAG run for ``run_date``; returns the log path."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    # no late-run deadline under `dags test`: Airflow 3.3 crashes on it after a successful run (airflow_alerts)
    env = airflow_env(airflow_home, {"TREMPLIN_LATE_AFTER_MINUTES": "off", **(extra_env or {})})
    log = airflow_home / f"{dag_id}-{run_date}.log"
    log.write_text("", encoding="utf-8")
    if not (airflow_home / "airflow.db").exists():
        _airflow(["db", "migrate"], env, log)
    _airflow(["dags", "test", dag_id, run_date], env, log)
    return log


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as TREMPLIN_* variables, so a child process (Airflow) reads the same ones."""
    env = {}
    for key, value in settings.public_dict().items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            # the separators Settings reads back: "|" between texts (they may hold commas), "," between numbers
            text = ("|" if all(isinstance(v, str) for v in value) else ",").join(str(v) for v in value)
        else:
            text = str(value)
        env[f"TREMPLIN_{key.upper()}"] = text
    # public_dict hides these; the child needs them as they are
    for name in (*SECRETS, "opstore_url"):
        if value := getattr(settings, name):
            env[f"TREMPLIN_{name.upper()}"] = value
    return env


# --- Airflow's own components: metadata database, pool, API server, DAG processor, scheduler ------------------

POOL_SLOTS = 1
POOL_DESCRIPTION = "The DuckDB warehouse: one task at a time opens it (DuckDB locks the file per process)"
COMPONENTS = ("api-server", "dag-processor", "scheduler")
FINISHED = ("success", "failed")


def metadata_env(url: str) -> dict[str, str]:
    """Airflow's metadata database settings for ``url``. PostgreSQL goes through psycopg 3 both ways: Airflow 3.3
    would derive an asyncpg URL for its async engine, and asyncpg is not installed. SQLite is taken as given."""
    if url.startswith("sqlite:"):
        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise TremplinError(f"metadata database URL {url!r}: expected sqlite:///PATH or postgresql+psycopg://…")
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://{rest}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+psycopg_async://{rest}",
    }


@dataclass(frozen=True)
class TaskRun:
    """One task instance of a DAG run, as the metadata database recorded it (times in UTC)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    pool: str
    start: datetime | None
    end: datetime | None
    pid: int | None
    queued_by: str | None  # the type of the Airflow job that queued it ("SchedulerJob")

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None


@dataclass(frozen=True)
class DagRunRecord:
    """A DAG run and its task instances, read from the metadata database."""

    dag_id: str
    run_id: str
    state: str
    logical_date: datetime | None
    start: datetime | None
    end: datetime | None
    tasks: tuple[TaskRun, ...]

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None

    def task(self, task_id: str) -> TaskRun:
        """The (unmapped) instance of ``task_id``."""
        found = [t for t in self.tasks if t.task_id == task_id and t.map_index == -1]
        if len(found) != 1:
            raise TremplinError(f"run {self.run_id} of {self.dag_id} has no unmapped task {task_id!r}")
        return found[0]

    def mapped(self, task_id: str) -> list[TaskRun]:
        """The mapped instances of ``task_id``, by map index."""
        return sorted((t for t in self.tasks if t.task_id == task_id and t.map_index >= 0), key=lambda t: t.map_index)

    def describe(self) -> str:
        """One line per task instance: what a timeout or a failure message shows."""
        return "\n".join(
            f"  {t.task_id}{f'[{t.map_index}]' if t.map_index >= 0 else ''}: {t.state} (try {t.try_number})"
            for t in self.tasks
        )


class LocalAirflow:
    """Airflow's own components on this machine with the LocalExecutor; a context manager that starts them and
    stops them all on the way out::

        with LocalAirflow(home, "postgresql+psycopg://u@127.0.0.1:5432/airflow", extra_env=env) as airflow:
            record = airflow.run("nightly_matching", datetime(2026, 11, 20, tzinfo=UTC), timeout=600)
        record.state, record.task("merge_shards").seconds, record.mapped("score_shard")
    """

    def __init__(
        self,
        airflow_home: Path,
        metadata_url: str,
        *,
        extra_env: Mapping[str, str] | None = None,
        parallelism: int = 2,
        command_timeout: float = 180,
    ) -> None:
        self.home = airflow_home
        self.port = free_port()
        self.command_timeout = command_timeout
        self.env = airflow_env(
            airflow_home,
            {
                **(extra_env or {}),
                **metadata_env(metadata_url),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(parallelism),  # LocalExecutor's worker processes
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
                # only the runs we trigger: no run for the latest cron interval once the DAG is unpaused
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
                # the scheduler signs the tokens the workers show the API server: both need the same secret
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                # a worker's supervisor notices that its task ended only at its next check (5 s by default),
                # holding the worker, and so the next task, that long
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            },
        )
        self.cli_log = airflow_home / "airflow-cli.log"
        self.logs = airflow_home / "components"
        self._sync_url = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        self._engine: sa.Engine | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._handles: list[IO[bytes]] = []

    # -- lifecycle ------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120) -> None:
        """Migrate the metadata database, create the warehouse pool, start the components and wait until the
        API server answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self._airflow(["db", "migrate"])
        self._airflow(["pools", "set", WAREHOUSE_POOL, str(POOL_SLOTS), POOL_DESCRIPTION])
        arguments = {
            "api-server": ["--apps", "execution", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "dag-processor": [],
            "scheduler": ["--skip-serve-logs"],  # task logs are files in AIRFLOW_HOME; no log server on 0.0.0.0
        }
        for name in COMPONENTS:
            handle = (self.logs / f"{name}.log").open("ab")
            self._handles.append(handle)
            self._processes[name] = subprocess.Popen(
                [AIRFLOW, name, *arguments[name]],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its workers and tasks with it
            )
        self._wait_until(self._api_answers, timeout, "the API server to answer")

    def stop(self, grace: float = 30) -> None:
        """Stop every component: SIGTERM, ``grace`` seconds to finish, then SIGKILL for whatever is left of each
        one's process group (LocalExecutor workers, task processes)."""
        running = [p for p in self._processes.values() if p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self._processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the group start_new_session made for it
            process.wait()
        self._processes.clear()
        for handle in self._handles:
            handle.close()
        self._handles.clear()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- runs -----------------------------------------------------------------------------------------------

    def trigger(self, dag_id: str, logical_date: datetime, *, timeout: float = 120) -> str:
        """Unpause ``dag_id`` once the DAG processor has stored it, and trigger a run for ``logical_date``;
        returns the run id."""
        if logical_date.tzinfo is None:
            raise TremplinError(f"logical date {logical_date.isoformat()} has no time zone")
        if logical_date > datetime.now(UTC):
            raise TremplinError(
                f"logical date {logical_date.isoformat()} is in the future: the scheduler leaves such a run queued"
            )
        self._wait_until(lambda: self._parsed(dag_id), timeout, f"the DAG processor to store {dag_id}")
        self._airflow(["dags", "unpause", dag_id])
        run_id = f"tremplin__{logical_date.astimezone(UTC).isoformat()}"
        self._airflow(["dags", "trigger", dag_id, "--logical-date", logical_date.isoformat(), "--run-id", run_id])
        return run_id

    def wait(self, dag_id: str, run_id: str, *, timeout: float, poll: float = 1.0) -> DagRunRecord:
        """Wait until the run has succeeded or failed; a component that exits or the timeout raise."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.record(dag_id, run_id)
            if record.state in FINISHED:
                return record
            self._check_running()
            if time.monotonic() > deadline:
                raise TremplinError(
                    f"run {run_id} of {dag_id} still {record.state} after {timeout:g} s; logs in {self.logs}:\n"
                    + record.describe()
                )
            time.sleep(poll)

    def run(self, dag_id: str, logical_date: datetime, *, timeout: float) -> DagRunRecord:
        """Trigger a run for ``logical_date`` and wait for it to finish."""
        return self.wait(dag_id, self.trigger(dag_id, logical_date), timeout=timeout)

    def record(self, dag_id: str, run_id: str) -> DagRunRecord:
        """The run and its task instances as the metadata database has them now."""
        with self.engine.connect() as conn:
            run = conn.execute(
                sa.text(
                    "select state, logical_date, start_date, end_date from dag_run"
                    " where dag_id = :dag_id and run_id = :run_id"
                ),
                {"dag_id": dag_id, "run_id": run_id},
            ).one_or_none()
            if run is None:
                raise TremplinError(f"no run {run_id!r} of {dag_id} in the metadata database")
            instances = conn.execute(
                sa.text(
                    "select ti.task_id, ti.map_index, ti.state, ti.try_number, ti.pool, ti.start_date, ti.end_date,"
                    " ti.pid, job.job_type from task_instance ti left join job on job.id = ti.queued_by_job_id"
                    " where ti.dag_id = :dag_id and ti.run_id = :run_id order by ti.task_id, ti.map_index"
                ),
                {"dag_id": dag_id, "run_id": run_id},
            ).all()
        return DagRunRecord(
            dag_id=dag_id,
            run_id=run_id,
            state=run.state,
            logical_date=_utc(run.logical_date),
            start=_utc(run.start_date),
            end=_utc(run.end_date),
            tasks=tuple(
                TaskRun(
                    task_id=row.task_id,
                    map_index=row.map_index,
                    state=row.state,
                    try_number=row.try_number,
                    pool=row.pool,
                    start=_utc(row.start_date),
                    end=_utc(row.end_date),
                    pid=row.pid,
                    queued_by=row.job_type,
                )
                for row in instances
            ),
        )

    @property
    def engine(self) -> sa.Engine:
        """The metadata database, for reading what Airflow recorded."""
        if self._engine is None:
            self._engine = sa.create_engine(self._sync_url, poolclass=sa.pool.NullPool)
        return self._engine

    def pids(self) -> dict[str, int]:
        """The process id of each running component (each leads its own process group)."""
        return {name: p.pid for name, p in self._processes.items() if p.poll() is None}

    # -- helpers --------------------------------------------------------------------------------------------

    def _airflow(self, args: list[str]) -> None:
        _airflow(args, self.env, self.cli_log, timeout=self.command_timeout)

    def _api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/execution/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def _parsed(self, dag_id: str) -> bool:
        with self.engine.connect() as conn:
            stored = conn.execute(
                sa.text("select count(*) from serialized_dag where dag_id = :dag_id"), {"dag_id": dag_id}
            ).scalar_one()
        return bool(stored)

    def _import_errors(self) -> list[str]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.text("select filename, stacktrace from import_error")).all()
        except sa.exc.SQLAlchemyError:
            return []
        return [f"{row.filename}: {(str(row.stacktrace).strip().splitlines() or [''])[-1]}" for row in rows]

    def _check_running(self) -> None:
        for name, process in self._processes.items():
            code = process.poll()
            if code is not None:
                log = self.logs / f"{name}.log"
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
                raise TremplinError(f"airflow {name} exited (code {code}); see {log}:\n" + "\n".join(tail))

    def _wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self._check_running()
            if time.monotonic() > deadline:
                errors = self._import_errors()
                raise TremplinError(
                    f"gave up waiting for {what} after {timeout:g} s; logs in {self.logs}"
                    + ("; DAG import errors:\n" + "\n".join(errors) if errors else "")
                )
            time.sleep(0.5)


def _utc(value: datetime | str | None) -> datetime | None:
    """A timestamp from the metadata database as an aware UTC datetime (SQLite hands back naive UTC or text)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
