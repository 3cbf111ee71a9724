"""The naive DuckDB baseline and the tremplin scorer agree on the same inputs, vetoes included."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tremplin.bench.naive import naive_matches, tremplin_matches
from tremplin.dev.generate import generate
from tremplin.nightly import common, ingest, normalize
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)
# France Travail qualification codes on one ladder (1 manoeuvre; 2 OS and 5 employe non qualifie; 3 OQ P1/P2
# and 6 employe qualifie; 4 OQ P3/P4; 7 technicien; 8 agent de maitrise; 9 cadre): a seeker is proposed up
# to one step below the vacancy's level.
LADDER = {"1": 1, "2": 2, "5": 2, "3": 3, "6": 3, "4": 4, "7": 5, "8": 6, "9": 7}


def test_naive_and_tremplin_give_the_same_ranked_matches(tmp_path: Path, reference: Reference, data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path)
    day = settings.inbox / NIGHT.isoformat()
    generate(reference, seekers=2_000, vacancies=600, seed=21, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    ingest.ingest(settings, NIGHT)
    normalize.normalize(settings, NIGHT)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers, vacancies = common.load_match_inputs(wh, settings, NIGHT)
    levels = np.random.default_rng(3).choice(["", "1", "3", "6", "7", "9"], size=seekers.height)
    seekers = seekers.with_columns(pl.Series("qualification_code", levels).replace("", None))
    unknown = tremplin_matches(
        settings, seekers.with_columns(pl.lit(None, pl.String).alias("qualification_code")), vacancies
    )
    ours = tremplin_matches(settings, seekers, vacancies)
    # the qualification veto really removes pairs here, so the comparison covers it: pairs matched when no
    # level is known are gone once levels are known, each one a vacancy more than one step above its seeker
    pair = ["seeker_id", "vacancy_id"]
    vetoed = (
        unknown.join(ours, on=pair, how="anti")
        .join(seekers.select("seeker_id", pl.col("qualification_code").alias("seeker_level")), on="seeker_id")
        .join(vacancies.select("vacancy_id", pl.col("qualification_code").alias("vacancy_level")), on="vacancy_id")
    )
    assert vetoed.height > 0
    steps = vetoed.select(
        pl.col("seeker_level").replace_strict(LADDER, default=None).alias("seeker_step"),
        pl.col("vacancy_level").replace_strict(LADDER, default=None).alias("vacancy_step"),
    )
    assert steps.null_count().row(0) == (0, 0)
    assert (steps["vacancy_step"] > steps["seeker_step"] + 1).all()
    theirs = naive_matches(settings, seekers, vacancies)
    key = ["seeker_id", "vacancy_id", "rank"]
    assert ours.height > 50
    assert ours.select(key).sort(key).equals(theirs.select(key).cast({"rank": pl.Int32}).sort(key))
