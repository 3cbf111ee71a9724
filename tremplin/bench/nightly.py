"""``tremplin bench``: time every nightly step on generated data and write the figures to a JSON file.

Figures go under ``nightly`` / ``<seekers>x<vacancies>`` in the results file; other benchmarks keep their own keys.
``python -m tremplin.bench.nightly --scale`` (``make bench``) writes ``scale`` / ``<seekers>x<vacancies>``: every step
in a fresh process of its own, so each step's peak RSS is its own, plus the scorer's work (pairs), the publish
step again into PostgreSQL (the production store; SQLite is the embedded default) and, on a sample of the same
inputs, the naive way (a DuckDB join on shared codes) against the tremplin scorer.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from connectors.reference import load_reference
from tremplin import code_version
from tremplin.dev.generate import generate
from tremplin.nightly import tasks
from tremplin.settings import PROJECT_ROOT, Settings

BENCH_DATE = date(2026, 11, 23)


def header(**size: int) -> dict[str, Any]:
    """When, with what code and on what machine the figures were measured, and at what ``size``."""
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **size,
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(settings: Settings, *, seekers: int, vacancies: int, out: Path, seed: int = 7) -> dict[str, Any]:
    home = PROJECT_ROOT / "var" / "bench"
    if home.exists():
        shutil.rmtree(home)
    settings = Settings.from_env(data_dir=settings.data_dir, home=home)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    ref = load_reference(settings.data_dir)
    generate(
        ref,
        seekers=seekers,
        vacancies=vacancies,
        seed=seed,
        out_dir=settings.inbox / BENCH_DATE.isoformat(),
        fmt="parquet",
    )
    steps["generate"] = round(time.perf_counter() - started, 3)
    outputs: dict[str, Any] = {}
    for name, function in tasks.STEPS.items():
        t = time.perf_counter()
        outputs[name] = function(settings, BENCH_DATE)
        steps[name] = round(time.perf_counter() - t, 3)
    result = {
        **header(seekers=seekers, vacancies=vacancies),
        "wall_time_s": steps,
        "total_s": round(time.perf_counter() - started, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "matches": outputs["score"]["matches"],
        "seekers_scored": outputs["score"]["seekers_scored"],
        "routing": outputs["route"],
        "published": outputs["publish"],
    }
    merge_results(out, ("nightly", f"{seekers}x{vacancies}"), result)
    return result


def merge_results(out: Path, keys: tuple[str, ...], result: dict[str, Any]) -> None:
    """Write ``result`` at ``keys`` (for example ``("scale", "1000000x200000")``) in the JSON results file,
    keeping everything else in it: each benchmark owns its own keys."""
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    node = existing
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = result
    out.write_text(json.dumps(existing, indent=2) + "\n", encoding="utf-8")


# --- scale: one process per step ---------------------------------------------------------------------


def _child_step(step: str, settings: Settings, run_date: date) -> tuple[dict[str, Any], float, float]:
    """Run one step in this (fresh) process: its output, wall time and this process's peak RSS."""
    started = time.perf_counter()
    function = _time_short_lists if step == "short_lists" else tasks.STEPS[step]
    output = function(settings, run_date)
    return output, time.perf_counter() - started, peak_rss_mib()


def _publish_postgresql(settings: Settings, run_date: date) -> dict[str, Any]:
    """Publish tonight into a new database on a throwaway PostgreSQL cluster, the production store, before the
    night's own publish into SQLite: publish only reads the warehouse, and a first publish is what is timed."""
    import dataclasses

    from tremplin.dev import pg_server
    from tremplin.nightly.publish import publish

    try:
        cluster = pg_server.start_own(prefix="tremplin_bench_")
    except pg_server.PostgresUnavailable as exc:
        return {"skipped": f"no PostgreSQL server: {exc}"}
    try:
        store = dataclasses.replace(settings, opstore_url=cluster.url(cluster.create_database()))
        started = time.perf_counter()
        output = publish(store, run_date)
        return {"wall_s": round(time.perf_counter() - started, 3), "peak_rss_mib": round(peak_rss_mib(), 1), **output}
    finally:
        cluster.stop()


def _time_short_lists(settings: Settings, run_date: date) -> dict[str, Any]:
    """The per-vacancy short lists alone (the route step also computes them, among its other work)."""
    import polars as pl

    from connectors.warehouse import Warehouse
    from matching.offers import shortlists

    with Warehouse.of(settings, read_only=True) as wh:  # what route reads for them
        matches = wh.frame("select_matches_to_route", {"run_date": run_date})
        vacancies = wh.frame("select_vacancies_to_route", {"run_date": run_date})
    started = time.perf_counter()
    lists = shortlists(matches, vacancies, shortlist_per_position=settings.shortlist_per_position)
    return {
        "compute_s": round(time.perf_counter() - started, 3),
        "rows": lists.height,
        "vacancies": lists.get_column("vacancy_id").n_unique(),
        "longest": int(lists.select(pl.col("rank").max()).item() or 0),
        "matches_in": matches.height,
        "frame_mib": round(lists.estimated_size("mb"), 1),
    }


_T = TypeVar("_T")


def _in_fresh_process(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in a new interpreter, so that its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


SCALE_STEPS = ("ingest", "normalize", "score", "route", "short_lists", "publish", "summary")
FIGURE_STEPS = ("normalize", "score", "route", "short_lists")  # the figures: normalize, score, lists


def run_scale(
    settings: Settings,
    *,
    seekers: int,
    vacancies: int,
    out: Path,
    seed: int = 7,
    sample: tuple[int, int] = (50_000, 10_000),
    home: Path = PROJECT_ROOT / "var" / "bench-scale",
) -> dict[str, Any]:
    """Generate into ``home`` (emptied first), then every nightly step in its own process; then naive against
    tremplin on a sample."""
    if home.exists():
        shutil.rmtree(home)
    settings = Settings.from_env(data_dir=settings.data_dir, home=home)
    started = t = time.perf_counter()
    generate(
        load_reference(settings.data_dir),
        seekers=seekers,
        vacancies=vacancies,
        seed=seed,
        out_dir=settings.inbox / BENCH_DATE.isoformat(),
        fmt="parquet",
    )
    steps: dict[str, Any] = {"generate": {"wall_s": round(time.perf_counter() - t, 3), "peak_rss_mib": None}}
    outputs: dict[str, Any] = {}
    for step in SCALE_STEPS:
        if step == "publish":  # not part of the night's time: started moves on by its wall time
            t = time.perf_counter()
            outputs["publish_postgresql"] = _in_fresh_process(_publish_postgresql, settings, BENCH_DATE)
            started += time.perf_counter() - t
            print(f"publish into PostgreSQL: {json.dumps(outputs['publish_postgresql'])}", flush=True)
        output, seconds, rss = _in_fresh_process(_child_step, step, settings, BENCH_DATE)
        steps[step] = {"wall_s": round(seconds, 3), "peak_rss_mib": round(rss, 1)}
        outputs[step] = output
        print(f"{step}: {seconds:.1f} s, peak RSS {rss:,.0f} MiB", flush=True)
    score = outputs["score"]
    score_s = steps["score"]["wall_s"]
    result = {
        **header(seekers=seekers, vacancies=vacancies),
        "steps": steps,
        "figure_steps": list(FIGURE_STEPS),
        "figure_steps_wall_s": round(sum(steps[s]["wall_s"] for s in FIGURE_STEPS), 3),
        "figure_steps_peak_rss_mib": max(steps[s]["peak_rss_mib"] for s in FIGURE_STEPS),
        "total_s": round(time.perf_counter() - started, 3),
        "score": {
            **score,
            "pairs_scored": score["candidate_pairs"],
            "throughput_pairs_per_s": round(score["candidate_pairs"] / score_s) if score_s else None,
            "matches_per_s": round(score["matches"] / score_s) if score_s else None,
        },
        "short_lists": outputs["short_lists"],
        "routing": outputs["route"],
        "published": outputs["publish"],
        "publish_postgresql": {
            **outputs["publish_postgresql"],
            "same_counts_as_sqlite": _same_counts(outputs["publish_postgresql"], outputs["publish"]),
        },
    }
    merge_results(out, ("scale", f"{seekers}x{vacancies}"), result)
    naive = _in_fresh_process(naive_against_tremplin, settings, BENCH_DATE, sample, seed)
    result["naive_vs_tremplin"] = naive
    print(f"naive: {json.dumps(naive)}", flush=True)
    merge_results(out, ("scale", f"{seekers}x{vacancies}"), result)
    return result


def _same_counts(postgresql: dict[str, Any], sqlite: dict[str, Any]) -> bool | None:
    """Whether both publishes report the same counts (SMS, queue items, seeker, vacancy and agency copies,
    closures, parts); None when PostgreSQL was skipped."""
    if "skipped" in postgresql:
        return None
    return all(postgresql.get(key) == value for key, value in sqlite.items())


def naive_against_tremplin(settings: Settings, run_date: date, sample: tuple[int, int], seed: int) -> dict[str, Any]:
    """Time a DuckDB join on shared item codes and sheets (no geographic blocking, the same vetoes and
    score in SQL, top-10 by window) against ``score_matches`` on the same sample of tonight's inputs."""
    from tremplin.bench.naive import naive_matches, sample_inputs, tremplin_matches

    seekers, vacancies = sample_inputs(settings, run_date, sample, seed)
    t = time.perf_counter()
    ours = tremplin_matches(settings, seekers, vacancies)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    theirs = naive_matches(settings, seekers, vacancies)
    naive_s = time.perf_counter() - t
    key = ["seeker_id", "vacancy_id", "rank"]
    same = ours.select(key).join(theirs.select(key), on=key, how="inner").height
    return {
        "seekers": seekers.height,
        "vacancies": vacancies.height,
        "tremplin_s": round(ours_s, 3),
        "naive_duckdb_s": round(naive_s, 3),
        "speed_ratio": round(naive_s / ours_s, 1) if ours_s else None,
        "tremplin_matches": ours.height,
        "naive_matches": theirs.height,
        "same_seeker_vacancy_rank": same,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", action="store_true", help="one process per step, plus the naive comparison")
    parser.add_argument("--seekers", type=int, default=1_000_000)
    parser.add_argument("--vacancies", type=int, default=200_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.scale:
        run_scale(settings, seekers=args.seekers, vacancies=args.vacancies, out=args.out)
    else:
        run_bench(settings, seekers=args.seekers, vacancies=args.vacancies, out=args.out)


if __name__ == "__main__":
    main()
