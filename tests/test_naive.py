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
from tremplin import pipeline
from tremplin.generate import generate
from tremplin.naive import naive_matches, tremplin_matches
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)


def test_naive_and_tremplin_give_the_same_ranked_matches(tmp_path: Path, reference: Reference, data_dir: Path) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path)
    day = settings.inbox / NIGHT.isoformat()
    generate(reference, seekers=2_000, vacancies=600, seed=21, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    pipeline.ingest(settings, NIGHT)
    pipeline.normalize(settings, NIGHT)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers, vacancies = pipeline.load_match_inputs(wh, settings, NIGHT)
    levels = np.random.default_rng(3).choice(["", "1", "3", "6", "7", "9"], size=seekers.height)
    seekers = seekers.with_columns(pl.Series("qualification_code", levels).replace("", None))
    unknown = tremplin_matches(
        settings, seekers.with_columns(pl.lit(None, pl.String).alias("qualification_code")), vacancies
    )
    ours = tremplin_matches(settings, seekers, vacancies)
    # the qualification veto really removes pairs here, so the comparison covers it
    assert not ours.select("seeker_id", "vacancy_id").equals(unknown.select("seeker_id", "vacancy_id"))
    theirs = naive_matches(settings, seekers, vacancies)
    key = ["seeker_id", "vacancy_id", "rank"]
    assert ours.height > 50
    assert ours.select(key).sort(key).equals(theirs.select(key).cast({"rank": pl.Int32}).sort(key))
