"""The night's ranking: default weights until feedback shows a better one, recorded in the manifest."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from connectors.warehouse import Warehouse
from tests.support.helpers import simulated_feedback
from tremplin.nightly.route import ranking
from tremplin.settings import Settings

START = date(2026, 10, 1)


def store_feedback(wh: Warehouse, feedback: pl.DataFrame) -> None:
    rows = feedback.with_columns(
        (pl.lit(START) + pl.duration(days=pl.col("day"))).cast(pl.Date).alias("run_date"),
        pl.format("V{}", pl.int_range(pl.len())).alias("vacancy_id"),
    )
    wh.con.register("fb", rows)
    wh.con.execute(
        "insert into matches select run_date, seeker_id, vacancy_id, 1, 0.5, skill_score, occupation_score, "
        "distance_score, 1.0, 'other', [], [] from fb"
    ).fetchall()
    wh.con.execute("insert into feedback select run_date, seeker_id, vacancy_id, label, 'test' from fb").fetchall()
    wh.con.unregister("fb")


def tonight() -> pl.DataFrame:
    # two offers for one seeker: near but weak on skills, or far but strong on skills
    return pl.DataFrame(
        {
            "seeker_id": ["s", "s"],
            "vacancy_id": ["near", "far"],
            "score": [0.4, 0.6],
            "skill_score": [0.2, 0.9],
            "occupation_score": [0.5, 0.5],
            "distance_score": [0.95, 0.1],
        }
    )


def test_default_weights_without_feedback(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, home=tmp_path)
    with Warehouse.open(settings.warehouse) as wh:
        ordered, record = ranking(wh, settings, date(2026, 11, 23), tonight())
    assert record["ranking"] == "default_weights" and record["reranker"] is None
    assert ordered.equals(tonight())


def test_feedback_that_favours_distance_reorders_tonight(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, home=tmp_path)
    with Warehouse.open(settings.warehouse) as wh:
        store_feedback(wh, simulated_feedback((0.5, 0.2, 4.0), days=30))
        ordered, record = ranking(wh, settings, START + timedelta(days=30), tonight())
    assert record["ranking"] == "reranker"
    assert record["reranker"]["used"] and record["reranker"]["version"].startswith("lr-")
    assert record["feedback_examples"] == 30 * 400
    best = ordered.sort("score", descending=True)["vacancy_id"].to_list()
    assert best == ["near", "far"]
