"""``tremplin bench --airflow``: the same night through Airflow (scheduler, LocalExecutor with two workers) and in one
process, on the same generated inputs.

The inputs are generated once (Parquet, as ``--scale`` does) and linked into two homes. Airflow runs with its
metadata database on a throwaway PostgreSQL cluster on loopback (``tremplin.dev.pg_server``), or, when no server can
be started, on SQLite (Airflow 3 runs the LocalExecutor on SQLite too; the figures say which). The run is
triggered for yesterday (UTC): the scheduler leaves a run whose logical date is ahead of its clock queued.

Figures go under ``airflow_nightly`` / ``<seekers>x<vacancies>`` in the results file: wall time of each run, of each
task instance (from Airflow's metadata database) and of each in-process step, peak memory (the sum of the resident
memory of every Airflow process, sampled twice a second, which counts pages shared after a fork once per
process; the in-process run's own peak), and the speed ratio.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from connectors.reference import load_reference
from tremplin.bench.nightly import _in_fresh_process, header, merge_results, peak_rss_mib
from tremplin.dev import pg_server
from tremplin.dev.airflow_runner import DagRunRecord, LocalAirflow, settings_env
from tremplin.dev.generate import generate
from tremplin.errors import TremplinError
from tremplin.nightly import tasks
from tremplin.settings import PROJECT_ROOT, Settings

DAG_ID = "nightly_matching"
PARALLELISM = 2


def run_airflow_bench(
    data_dir: Path,
    *,
    seekers: int,
    vacancies: int,
    out: Path,
    seed: int = 7,
    timeout: float = 4 * 3600,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate once, run the night (and its report) in one process, then through Airflow; write and return the
    figures."""
    root = PROJECT_ROOT / "var" / "bench-airflow"
    if root.exists():
        shutil.rmtree(root)
    run_date = datetime.now(UTC).date() - timedelta(days=1)
    inputs = root / "inputs"
    started = time.perf_counter()
    generate(
        load_reference(data_dir),
        seekers=seekers,
        vacancies=vacancies,
        seed=seed,
        out_dir=inputs,
        fmt="parquet",
        # the same distance between the data and the night as the other benchmarks (generated as of 3 days before)
        as_of=datetime.combine(run_date - timedelta(days=3), datetime.min.time(), tzinfo=UTC) + timedelta(hours=2),
    )
    generated_s = time.perf_counter() - started
    log(f"generated {seekers:,} seekers and {vacancies:,} vacancies in {generated_s:.1f} s; night {run_date}")

    homes = {name: Settings.from_env(data_dir=data_dir, home=root / name) for name in ("one-process", "airflow")}
    for settings in homes.values():
        shutil.copytree(inputs, settings.inbox / run_date.isoformat(), copy_function=os.link)

    one_process = _in_fresh_process(_night_in_one_process, homes["one-process"], run_date)
    log(f"one process: {one_process['wall_s']:.1f} s, peak RSS {one_process['peak_rss_mib']:,.0f} MiB")

    airflow = _night_through_airflow(homes["airflow"], run_date, root / "airflow-meta", timeout=timeout)
    log(
        f"Airflow ({airflow['metadata_db']} metadata, LocalExecutor, {PARALLELISM} workers): "
        f"{airflow['wall_s']:.1f} s, peak RSS of all its processes {airflow['peak_rss_mib']:,.0f} MiB"
    )
    ours, theirs = _outputs(homes["airflow"], run_date), _outputs(homes["one-process"], run_date)
    result = {
        **header(seekers=seekers, vacancies=vacancies),
        "run_date": run_date.isoformat(),
        "generate_s": round(generated_s, 3),
        "one_process": one_process,
        "airflow": airflow,
        # above 1: the night through Airflow with two workers ends sooner than in one process
        "speed_ratio": round(one_process["wall_s"] / airflow["wall_s"], 3),
        "same_results": ours == theirs,
        "outputs": ours,
    }
    if ours != theirs:
        result["outputs_one_process"] = theirs
    merge_results(out, ("airflow_nightly", f"{seekers}x{vacancies}"), result)
    return result


def _night_in_one_process(settings: Settings, run_date: date) -> dict[str, Any]:
    """``tasks.run_night`` and the run report (the DAG's last task) in this (fresh) process: wall time of the night
    and of each step, peak RSS."""
    from tremplin.report import write_report

    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    tasks.run_night(settings, run_date, progress=lambda step: marks.append((step, time.perf_counter())))
    marks.append(("report", time.perf_counter()))
    write_report(settings, run_date, as_of=datetime.now(UTC))
    ended = time.perf_counter()
    ends = [t for _, t in marks[1:]] + [ended]
    return {
        "wall_s": round(ended - started, 3),
        "steps_s": {step: round(end - begin, 3) for (step, begin), end in zip(marks, ends, strict=True)},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def _night_through_airflow(settings: Settings, run_date: date, airflow_home: Path, *, timeout: float) -> dict[str, Any]:
    """Start Airflow's components on a metadata database, run the night, stop them; what it took."""
    with _metadata_database() as (url, kind):
        env = {**settings_env(settings), "TREMPLIN_TASK_RETRIES": "0"}  # a failure shows at once, not after retries
        airflow = LocalAirflow(airflow_home, url, extra_env=env, parallelism=PARALLELISM)
        started = time.perf_counter()
        with airflow:
            ready = time.perf_counter()
            with _sampling(lambda: list(airflow.pids().values())) as memory:
                run_id = airflow.trigger(DAG_ID, datetime.combine(run_date, datetime.min.time(), tzinfo=UTC))
                triggered = time.perf_counter()
                record = airflow.wait(DAG_ID, run_id, timeout=timeout)
                finished = time.perf_counter()
            stopping = time.perf_counter()
        stopped = time.perf_counter()
    if record.state != "success":
        raise TremplinError(f"the night through Airflow {record.state}; logs in {airflow.logs}:\n{record.describe()}")
    return {
        "metadata_db": kind,
        "executor": "LocalExecutor",
        "parallelism": PARALLELISM,
        "startup_s": round(ready - started, 3),  # db migrate, pool, API server, DAG processor, scheduler
        "trigger_s": round(triggered - ready, 3),  # the DAG parsed and stored, unpaused, a run triggered
        # from the trigger to the run's end as seen here (polled every second): what ops wait for
        "wall_s": round(finished - triggered, 3),
        "dag_run_s": None if record.seconds is None else round(record.seconds, 3),  # as the scheduler recorded it
        "stop_s": round(stopped - stopping, 3),
        "tasks": _task_figures(record),
        "shards": len(record.mapped("score_shard")),
        "shards_overlap_s": _shards_overlap(record),
        "peak_rss_mib": round(memory["total"], 1),
        "peak_process_rss_mib": round(memory["process"], 1),
    }


@contextmanager
def _metadata_database() -> Iterator[tuple[str, str]]:
    """A database on a throwaway PostgreSQL cluster, or, when none can be started, a SQLite file (said so)."""
    try:
        cluster = pg_server.start_own(prefix="tremplin_bench_")
    except pg_server.PostgresUnavailable as exc:
        folder = PROJECT_ROOT / "var" / "bench-airflow"
        yield f"sqlite:///{folder / 'airflow-metadata.db'}", f"sqlite (no PostgreSQL: {exc})"
        return
    try:
        yield cluster.url(cluster.create_database()), "postgresql"
    finally:
        cluster.stop()


def _task_figures(record: DagRunRecord) -> dict[str, dict[str, Any]]:
    """Each task instance: when it started after the run did, how long it ran, its pool."""
    figures = {}
    for t in sorted(record.tasks, key=lambda t: (t.start or datetime.max.replace(tzinfo=UTC), t.map_index)):
        name = t.task_id if t.map_index < 0 else f"{t.task_id}[{t.map_index}]"
        offset = (t.start - record.start).total_seconds() if t.start and record.start else None
        figures[name] = {
            "start_s": None if offset is None else round(offset, 3),
            "seconds": None if t.seconds is None else round(t.seconds, 3),
            "pool": t.pool,
        }
    return figures


def _shards_overlap(record: DagRunRecord) -> float:
    """The longest time two shards ran together, in seconds (0 when they never did)."""
    spans = [(t.start, t.end) for t in record.mapped("score_shard") if t.start and t.end]
    overlaps = [
        (min(a_end, b_end) - max(a_start, b_start)).total_seconds()
        for i, (a_start, a_end) in enumerate(spans)
        for b_start, b_end in spans[i + 1 :]
    ]
    return round(max([0.0, *overlaps]), 3)


def _outputs(settings: Settings, run_date: date) -> dict[str, Any]:
    """What the night produced, to check both runs agree: matches, matched seekers, routing, publishing."""
    from connectors.warehouse import Warehouse

    with Warehouse.of(settings, read_only=True) as wh:
        matches = wh.frame("select_matches", {"run_date": run_date})
        routing = wh.table("routing")
    return {
        "matches": matches.height,
        "matched_seekers": matches.get_column("seeker_id").n_unique(),
        "score_sum": round(float(matches.get_column("score").sum()), 6),
        "routing": dict(sorted(routing.group_by("channel").len().iter_rows())),
    }


@contextmanager
def _sampling(roots: Callable[[], list[int]], interval: float = 0.5) -> Iterator[dict[str, float]]:
    """Sample the resident memory of the process trees under ``roots()`` until the block ends; yields the peaks
    in MiB (``total``: all processes together, ``process``: the largest one), filled in as it goes."""
    peaks = {"total": 0.0, "process": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            sizes = []
            for pid in roots():
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for process in tree:
                    with contextlib.suppress(psutil.Error):  # it ended between the listing and the reading
                        sizes.append(process.memory_info().rss / 2**20)
            peaks["total"] = max(peaks["total"], sum(sizes))
            peaks["process"] = max(peaks["process"], max(sizes, default=0.0))
            done.wait(interval)

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        done.set()
        thread.join()
