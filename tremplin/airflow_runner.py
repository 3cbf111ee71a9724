"""Run the real Airflow DAGs against a project-local AIRFLOW_HOME (SQLite metadata database).

Used by ``make demo`` and the end-to-end tests: ``airflow db migrate`` once, then ``airflow dags test``,
which runs every task of one DAG run in this machine's Airflow, recording it in the metadata database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tremplin.errors import TremplinError
from tremplin.settings import PROJECT_ROOT, Settings

DAGS_FOLDER = PROJECT_ROOT / "dags"


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


def _airflow(args: list[str], env: Mapping[str, str], log: Path) -> None:
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        done = subprocess.run(command, env=dict(env), stdout=handle, stderr=subprocess.STDOUT, check=False)
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
    for secret in ("twilio_auth_token", "alert_webhook_token"):  # kept out of public_dict, needed all the same
        if value := getattr(settings, secret):
            env[f"TREMPLIN_{secret.upper()}"] = value
    return env
