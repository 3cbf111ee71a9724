"""The score step in shards: plan (export the inputs to Parquet), score each shard, merge into the warehouse.

The plan step is the only one that reads the warehouse; it writes the night's match inputs and the
shard plan under ``<home>/shards/<run date>/``. Each shard step reads only those Parquet files and
writes its own matches file, so shards can run in parallel processes (Airflow's mapped tasks) while the
DuckDB file stays unopened. The merge step is the single writer: it checks that every planned shard
left its file, then replaces the night's matches in one transaction.

The same three functions run in one process for ``tremplin nightly`` (:func:`score_in_process`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from connectors.warehouse import Warehouse
from matching import columns as c
from matching.score import SEEKER_INPUT, VACANCY_INPUT, score_matches_with_stats
from matching.shards import SHARD, assign, plan_shards, shard_count, shard_inputs
from tremplin.errors import TremplinError
from tremplin.nightly.common import load_match_inputs, reference, run_end
from tremplin.settings import Settings

SEEKERS_FILE = "seekers.parquet"
VACANCIES_FILE = "vacancies.parquet"
PLAN_FILE = "plan.parquet"
META_FILE = "plan.json"


def scoring_options(settings: Settings) -> dict[str, Any]:
    """The scorer's keyword arguments for these settings: reference links, weights, top-k, threshold."""
    rome = reference(settings).rome
    return {
        "mobility": rome.mobility,
        "core_items": rome.core_items,
        "weight_skill": settings.weight_skill,
        "weight_occupation": settings.weight_occupation,
        "weight_distance": settings.weight_distance,
        "top_k": settings.top_k,
        "min_score": settings.min_score,
    }


def shard_dir(settings: Settings, run_date: date) -> Path:
    return settings.home / "shards" / run_date.isoformat()


def _matches_file(folder: Path, shard: int) -> Path:
    return folder / f"matches-{shard:04d}.parquet"


def plan(settings: Settings, run_date: date) -> list[int]:
    """Export tonight's match inputs and the shard plan to Parquet; returns the shard ids (a short list)."""
    with Warehouse.of(settings, read_only=True) as wh:
        seekers, vacancies = load_match_inputs(wh, settings, run_date)
        stale = wh.scalar(
            "count_stale_seekers",
            {"fresh_since": run_end(run_date) - timedelta(days=settings.stale_profile_days)},
        )
    folder = shard_dir(settings, run_date)
    if folder.exists():
        shutil.rmtree(folder)  # a re-run starts from a clean slate: no stale shard file can be merged
    folder.mkdir(parents=True)
    shards = plan_shards(seekers, shards=shard_count(seekers.height))
    # sorted by shard, so that a shard task reads only its own row groups, then by id: the same file every run
    assign(seekers.select(*SEEKER_INPUT, c.COMMUNE), shards).drop("department").sort(SHARD, c.SEEKER_ID).write_parquet(
        folder / SEEKERS_FILE, row_group_size=50_000, statistics=True
    )
    vacancies.select(VACANCY_INPUT).write_parquet(folder / VACANCIES_FILE)
    shards.write_parquet(folder / PLAN_FILE)
    ids = sorted(set(shards.get_column(SHARD).to_list()))
    meta = {
        "shards": ids,
        "seekers": seekers.height,
        "vacancies": vacancies.height,
        "stale_seekers_excluded": int(stale or 0),
    }
    (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return ids


def score_shard(settings: Settings, run_date: date, shard: int) -> dict[str, Any]:
    """Score one shard from the Parquet snapshot and write its matches file; never opens the warehouse."""
    started = time.perf_counter()
    folder = shard_dir(settings, run_date)
    vacancies = pl.read_parquet(folder / VACANCIES_FILE)
    own = pl.scan_parquet(folder / SEEKERS_FILE).filter(pl.col(SHARD) == shard).collect()
    mine, reach = shard_inputs(own, vacancies, pl.read_parquet(folder / PLAN_FILE), shard)
    matches, stats = score_matches_with_stats(mine, reach, **scoring_options(settings), idf_over=vacancies)
    target = _matches_file(folder, shard)
    partial = target.with_suffix(".tmp")
    matches.write_parquet(partial)
    os.replace(partial, target)  # a crashed task leaves no half-written file behind
    return {
        "shard": shard,
        "seekers": stats.seekers,
        "vacancies_in_reach": stats.vacancies,
        "candidate_pairs": stats.candidate_pairs,
        "bounded_pairs": stats.bounded_pairs,
        "kept_pairs": stats.kept_pairs,
        "matches": stats.matches,
        "seconds": round(time.perf_counter() - started, 3),
    }


def merge(settings: Settings, run_date: date) -> dict[str, Any]:
    """Replace the night's matches with every shard's file, in one transaction (the only writer)."""
    folder = shard_dir(settings, run_date)
    if not (folder / META_FILE).is_file():
        raise TremplinError(f"no shard plan in {folder}: run the plan step first")
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    files = [_matches_file(folder, shard) for shard in meta["shards"]]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise TremplinError(f"shard results missing in {folder}: {', '.join(missing)}")
    with Warehouse.of(settings) as wh:
        with wh.transaction():
            wh.execute("delete_matches", {"run_date": run_date})
            if files:  # DuckDB reads the files itself: the night's matches never sit in this process
                wh.execute("insert_matches", {"run_date": run_date, "files": [str(f) for f in files]})
        ((matches, matched_seekers),) = wh.execute("count_night_matches", {"run_date": run_date})
    return {
        "seekers_scored": meta["seekers"],
        "stale_seekers_excluded": meta["stale_seekers_excluded"],
        "vacancies": meta["vacancies"],
        "matches": matches,
        "matched_seekers": matched_seekers,
        "shards": len(files),
    }


def score_in_process(settings: Settings, run_date: date) -> dict[str, Any]:
    """Plan, every shard in turn, merge: the score step without Airflow."""
    started = time.perf_counter()
    ids = plan(settings, run_date)
    planned = time.perf_counter()
    shards = [score_shard(settings, run_date, shard) for shard in ids]
    scored = time.perf_counter()
    merged = merge(settings, run_date)
    for key in ("candidate_pairs", "bounded_pairs", "kept_pairs"):
        merged[key] = sum(s[key] for s in shards)
    merged["vacancies_in_reach"] = sum(s["vacancies_in_reach"] for s in shards)
    merged["seconds"] = {
        "plan": round(planned - started, 3),
        "shards": round(scored - planned, 3),
        "merge": round(time.perf_counter() - scored, 3),
    }
    return merged
