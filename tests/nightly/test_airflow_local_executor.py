"""The nightly DAG run by Airflow's own components: a scheduler with the LocalExecutor and two worker processes, the
DAG processor and the API server, with the metadata database and the operational store on PostgreSQL.

The mapped ``score_shard`` instances run side by side, the tasks that open the warehouse take turns in the
``tremplin_warehouse`` pool, and the night's results equal those of the same night run in one process. A failed
night is read back from the metadata database, and every Airflow process stops also when the block fails.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import pytest

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, metadata, sms_outbox
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tests.support import pg
from tremplin.dev.airflow_runner import DagRunRecord, LocalAirflow, TaskRun, settings_env
from tremplin.dev.generate import generate
from tremplin.errors import TremplinError
from tremplin.nightly import tasks
from tremplin.ops.airflow import WAREHOUSE_POOL
from tremplin.settings import Settings

# The scheduler never starts a run whose logical date is ahead of its clock: the night is yesterday's.
NIGHT = datetime.now(UTC).date() - timedelta(days=1)
NIGHTLY_TASKS = ("sync_feedback", "ingest", "normalize", "plan_shards", "merge_shards", "route", "publish", "summary")

# warehouse tables and their keys (every column compared)
WAREHOUSE_TABLES = {
    "seekers": ["seeker_id"],
    "vacancies": ["vacancy_id"],
    "seeker_protected": ["seeker_id"],
    "quarantine": ["file", "line", "field"],
    "ingest_stats": ["file"],
    "seeker_codes": ["seeker_id"],
    "matches": ["seeker_id", "vacancy_id"],
    "routing": ["seeker_id"],
    "shortlists": ["vacancy_id", "seeker_id"],
    "feedback": ["seeker_id", "vacancy_id"],
}
# operational store columns holding the wall-clock time of the write
WRITTEN_AT = {"created_at", "updated_at", "published_at"}


@pytest.fixture
def databases(postgres_cluster: pg.Cluster) -> Iterator[dict[str, str]]:
    """Three new databases on the test server: Airflow's metadata, and an operational store for each run."""
    names = {role: postgres_cluster.create_database() for role in ("airflow", "store_airflow", "store_serial")}
    yield {role: postgres_cluster.url(name) for role, name in names.items()}
    for name in names.values():
        postgres_cluster.drop_database(name)


def _inputs(reference: Reference, folder: Path) -> None:
    """3,000 seekers and 3,000 vacancies as of three days before the night, and the real France Travail offers
    (as many vacancies as seekers: enough matches on both channels to compare)."""
    as_of = datetime.combine(NIGHT - timedelta(days=3), time(2), tzinfo=UTC)
    generate(reference, seekers=3_000, vacancies=3_000, seed=11, out_dir=folder, as_of=as_of)
    shutil.copy(REAL_OFFERS, folder / "offres.jsonl")


def _overlap(a: TaskRun, b: TaskRun) -> float:
    """Seconds during which both ran (negative: the gap between them)."""
    assert a.start and a.end and b.start and b.end
    return (min(a.end, b.end) - max(a.start, b.start)).total_seconds()


def _warehouse(settings: Settings) -> dict[str, pl.DataFrame]:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {name: wh.table(name).sort(keys) for name, keys in WAREHOUSE_TABLES.items()}


def _store(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table of the operational store, rows without their write times, in key order."""
    store = OpStore(url)
    try:
        tables = {}
        for table in metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            rows = [{k: v for k, v in row.items() if k not in WRITTEN_AT} for row in store.table_rows(table)]
            tables[table.name] = sorted(rows, key=lambda row: [str(row[k]) for k in keys])
        return tables
    finally:
        store.close()


def _manifest(settings: Settings) -> dict[str, Any]:
    """The night's manifest, less what differs between two runs: the run id and the times."""
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        [row] = wh.table("run_manifest").to_dicts()
    return {
        "run_date": row["run_date"],
        "taxonomy_version": row["taxonomy_version"],
        "code_version": row["code_version"],
        "settings_hash": row["settings_hash"],  # the same settings: home and store URLs are not part of it
        "inputs": json.loads(row["inputs_json"]),  # file names, row counts and SHA-256
        "outputs": json.loads(row["outputs_json"]),
        "finished": row["finished_at"] is not None,
    }


def _steps(settings: Settings) -> dict[str, dict[str, Any]]:
    """What each step of the night recorded."""
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {row["step"]: json.loads(row["result_json"]) for row in wh.table("run_steps").to_dicts()}


@pytest.mark.slow
@pytest.mark.postgresql
def test_the_dag_under_a_scheduler_runs_shards_in_parallel_and_equals_one_process(
    tmp_path: Path, reference: Reference, data_dir: Path, databases: dict[str, str]
) -> None:
    run_date: date = NIGHT
    through_airflow = Settings.from_env(
        {}, data_dir=data_dir, home=tmp_path / "airflow-home", opstore_url=databases["store_airflow"]
    )
    serial = Settings.from_env(
        {}, data_dir=data_dir, home=tmp_path / "serial-home", opstore_url=databases["store_serial"]
    )
    _inputs(reference, through_airflow.inbox / run_date.isoformat())
    shutil.copytree(through_airflow.inbox, serial.inbox)

    no_retry = {"TREMPLIN_TASK_RETRIES": "0"}  # a failing task fails the run at once, with its own error
    with LocalAirflow(
        tmp_path / "airflow", databases["airflow"], extra_env={**settings_env(through_airflow), **no_retry}
    ) as airflow:
        record = airflow.run("nightly_matching", datetime.combine(run_date, time(0), tzinfo=UTC), timeout=240)
    assert record.state == "success", record.describe()

    tasks.run_night(serial, run_date)

    _assert_scheduled_in_parallel(record, through_airflow, run_date)
    # the same night, to the row
    ours, theirs = _warehouse(through_airflow), _warehouse(serial)
    assert ours["matches"].height > 300  # not a vacuous comparison: hundreds of matches, both channels
    for name in WAREHOUSE_TABLES:
        assert ours[name].equals(theirs[name]), f"warehouse table {name} differs"
    assert _manifest(through_airflow) == _manifest(serial)
    recorded, expected_steps = _steps(through_airflow), _steps(serial)
    assert set(recorded) == set(expected_steps) == set(tasks.NIGHT_STEPS)
    # score: merge_shards records the merged counts; one process adds the shards' work and timings to them
    merged, in_process = recorded.pop("score"), expected_steps.pop("score")
    assert merged == {key: in_process[key] for key in merged}
    assert recorded == expected_steps
    published, expected = _store(databases["store_airflow"]), _store(databases["store_serial"])
    assert len(published[sms_outbox.name]) > 100 and len(published[counsellor_queue.name]) > 20
    for name in expected:
        assert published[name] == expected[name], f"operational store table {name} differs"


def _assert_scheduled_in_parallel(record: DagRunRecord, settings: Settings, run_date: date) -> None:
    """Airflow's record: every task queued by the scheduler and done on the first try, two shards at once, the
    warehouse tasks one at a time in their pool."""
    plan = json.loads((settings.home / "shards" / run_date.isoformat() / "plan.json").read_text(encoding="utf-8"))
    shards = record.mapped("score_shard")
    assert len(plan["shards"]) >= 2
    assert [(t.map_index, t.state) for t in shards] == [(m, "success") for m in range(len(plan["shards"]))]
    for name in (*NIGHTLY_TASKS, "report"):
        assert record.task(name).state == "success", record.describe()
    assert {(t.queued_by, t.try_number) for t in record.tasks} == {("SchedulerJob", 1)}
    # two shards ran at the same time, in two processes of the LocalExecutor
    assert max(_overlap(a, b) for a in shards for b in shards if a.map_index < b.map_index) > 0.5
    assert len({t.pid for t in shards}) == len(shards)
    # the tasks that open the warehouse were in its pool, and never two at a time
    warehouse = sorted(
        (t for t in record.tasks if t.task_id != "score_shard"),
        key=lambda t: t.start or datetime.min.replace(tzinfo=UTC),
    )
    assert {t.pool for t in warehouse} == {WAREHOUSE_POOL} and {t.pool for t in shards} == {"default_pool"}
    for before, after in itertools.pairwise(warehouse):
        assert _overlap(before, after) <= 0, f"{before.task_id} and {after.task_id} held the warehouse together"


@pytest.mark.slow
def test_a_failed_night_is_read_back_and_every_process_stops(tmp_path: Path, data_dir: Path) -> None:
    # No input for the night: ingest fails. Metadata on SQLite, where Airflow 3 runs the LocalExecutor too (what the
    # benchmark falls back to without PostgreSQL).
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path / "home")
    (settings.inbox / NIGHT.isoformat()).mkdir(parents=True)
    airflow = LocalAirflow(
        tmp_path / "airflow",
        f"sqlite:///{tmp_path / 'airflow.db'}",
        extra_env={**settings_env(settings), "TREMPLIN_TASK_RETRIES": "0"},
    )
    processes: list[psutil.Process] = []
    tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)
    # the block ends with an error: everything must stop all the same
    with pytest.raises(TremplinError, match=r"is in the future: the scheduler leaves such a run queued$"), airflow:
        record = airflow.run("nightly_matching", datetime.combine(NIGHT, time(0), tzinfo=UTC), timeout=180)
        for pid in airflow.pids().values():
            leader = psutil.Process(pid)
            processes += [leader, *leader.children(recursive=True)]
        airflow.trigger("nightly_matching", tomorrow)

    assert record.state == "failed"
    states = {t.task_id: t.state for t in record.tasks}
    assert (states["sync_feedback"], states["ingest"]) == ("success", "failed")
    assert {states[t] for t in ("normalize", "plan_shards", "merge_shards", "route", "publish", "summary")} == {
        "upstream_failed"
    }
    assert states["report"] == "failed"  # all_done: it ran after the failure and failed the incomplete night
    assert record.task("ingest").end is not None and record.end is not None
    # the scheduler, its two LocalExecutor workers, the DAG processor and the API server, all gone
    assert len(processes) >= 5
    assert [p.pid for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
