"""The real nightly_matching DAG, run by Airflow (``airflow dags test``, i.e. ``dag.test()``) on a tiny fixture."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tremplin.dev.airflow_runner import run_dag, settings_env
from tremplin.dev.generate import generate
from tremplin.errors import TremplinError
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)


def test_nightly_dag_runs_end_to_end(tmp_path: Path, reference: Reference, data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path / "home")
    day = settings.inbox / NIGHT.isoformat()
    generate(reference, seekers=400, vacancies=150, seed=3, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")

    log = run_dag(
        "nightly_matching", NIGHT.isoformat(), airflow_home=tmp_path / "airflow", extra_env=settings_env(settings)
    )

    assert log.is_file()
    # Airflow's own record of the run, in its metadata database
    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        instances = meta.execute(
            "select task_id, map_index, state from task_instance where dag_id = 'nightly_matching'"
        ).fetchall()
        run_state = meta.execute("select state from dag_run where dag_id = 'nightly_matching'").fetchone()[0]
    steps = (
        "sync_feedback",
        "ingest",
        "normalize",
        "plan_shards",
        "merge_shards",
        "route",
        "publish",
        "summary",
        "report",
    )
    assert {(t, m, s) for t, m, s in instances if t != "score_shard"} == {(t, -1, "success") for t in steps}
    # score_shard really ran as mapped task instances, one per planned shard, each writing its file
    mapped = sorted((m, s) for t, m, s in instances if t == "score_shard")
    planned = json.loads((settings.home / "shards" / NIGHT.isoformat() / "plan.json").read_text(encoding="utf-8"))
    assert len(planned["shards"]) >= 2
    assert mapped == [(m, "success") for m in range(len(planned["shards"]))]
    assert len(list((settings.home / "shards" / NIGHT.isoformat()).glob("matches-*.parquet"))) == len(mapped)
    assert run_state == "success"
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        stats = wh.table("ingest_stats")
        routing = wh.table("routing")
        manifest = wh.table("run_manifest")
    assert stats.filter(pl.col("file") == "offres.jsonl")["rows_loaded"].item() == 150
    assert stats["rows_read"].sum() == 400 + 150 + 150
    assert routing.height > 0
    assert manifest["finished_at"].null_count() == 0
    # the report task wrote the night's page and figures, with every step done
    figures = json.loads((settings.reports / f"report-{NIGHT.isoformat()}.json").read_text(encoding="utf-8"))
    assert figures["steps"]["missing"] == [] and figures["manifest"]["run_id"] == manifest["run_id"][0]
    assert (settings.reports / f"report-{NIGHT.isoformat()}.html").is_file()
    store = OpStore(settings.opstore)
    assert (
        store.count(sms_outbox) + store.count(counsellor_queue)
        == routing.filter(pl.col("channel") != "suppressed").height
    )


def test_a_failing_task_fails_the_run(tmp_path: Path, data_dir: Path) -> None:
    # No input files for the night: ingest raises, and Airflow reports the run as failed.
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path / "home")
    (settings.inbox / NIGHT.isoformat()).mkdir(parents=True)
    fast_retry = {"TREMPLIN_TASK_RETRIES": "1", "TREMPLIN_RETRY_DELAY_SECONDS": "1"}
    with pytest.raises(TremplinError, match=rf"^airflow dags test nightly_matching {NIGHT.isoformat()} failed \(exit"):
        run_dag(
            "nightly_matching",
            NIGHT.isoformat(),
            airflow_home=tmp_path / "airflow",
            extra_env={**settings_env(settings), **fast_retry},
        )
    # Airflow's own record: the run failed, and it was ingest that failed (sync_feedback before it succeeded)
    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        runs = meta.execute("select state from dag_run where dag_id = 'nightly_matching'").fetchall()
        states = dict(
            meta.execute(
                "select task_id, state from task_instance where dag_id = 'nightly_matching' and map_index = -1"
            ).fetchall()
        )
    assert runs == [("failed",)]
    assert states["ingest"] == "failed"
    assert states["sync_feedback"] == "success"
    # the report ran all the same, said what is missing, and failed too: the run cannot look green
    assert states["report"] == "failed"
    figures = json.loads((settings.reports / f"report-{NIGHT.isoformat()}.json").read_text(encoding="utf-8"))
    assert figures["steps"]["missing"] == ["ingest", "normalize", "score", "route", "publish", "summary"]
