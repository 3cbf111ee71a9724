"""The night is a pure function of its inputs: the row order of the inputs, the process and the thread count that
run a step, and the shards change neither the seekers' codes nor the matches, bit for bit.

Equal scores are common (the vacancies of a commune share its centroid). At 3,000 x 3,000 with a top 3 above
0.25, some seekers' cut falls between two vacancies of equal score and distance, so the tie-break (the smaller
vacancy id) is exercised.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.score import MATCH_SCHEMA, score_matches
from tremplin.dev.airflow_runner import settings_env
from tremplin.dev.generate import generate
from tremplin.nightly import common, ingest, normalize
from tremplin.nightly import shards as shard_steps
from tremplin.settings import PROJECT_ROOT, Settings

NIGHT = date(2026, 11, 23)
TOP_K = 3
SNAPSHOT = (shard_steps.SEEKERS_FILE, shard_steps.VACANCIES_FILE)
CODES = [c.SEEKER_ID, c.ROME_CODES, c.ITEM_CODES, "unresolved"]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path) -> Settings:
    settings = Settings.from_env(
        {"TREMPLIN_MIN_SCORE": "0.25", "TREMPLIN_TOP_K": str(TOP_K)},
        data_dir=data_dir,
        home=tmp_path_factory.mktemp("determinism"),
    )
    generate(reference, seekers=3_000, vacancies=3_000, seed=11, out_dir=settings.inbox / NIGHT.isoformat())
    ingest.ingest(settings, NIGHT)
    normalize.normalize(settings, NIGHT)
    return settings


def test_codes_do_not_depend_on_the_order_of_the_profiles(night: Settings, reference: Reference) -> None:
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        profiles = wh.table("seekers").select(c.SEEKER_ID, c.OCCUPATIONS, c.SKILLS, c.UPDATED_AT)
        stored = wh.table("seeker_codes")
    # two made-up profiles whose free text resolves to nothing, between known codes
    made_up = pl.DataFrame(
        {
            c.SEEKER_ID: ["ZZ1", "ZZ2"],
            c.OCCUPATIONS: [["Qxzwv brrkt", "D1106", "Vvvqq"], ["Zzkqp"]],
            c.SKILLS: [["Pffzt", "Kkxqw"], []],
            c.UPDATED_AT: [datetime(2026, 11, 20, tzinfo=UTC)] * 2,
        },
        schema=profiles.schema,
    )
    every = pl.concat([profiles, made_up])
    shuffled = every.sample(fraction=1.0, shuffle=True, seed=3)
    assert shuffled[c.SEEKER_ID].to_list() != every[c.SEEKER_ID].to_list()
    base = normalize.normalize_profiles(every, reference)[0].select(CODES).sort(c.SEEKER_ID)
    again = normalize.normalize_profiles(shuffled, reference)[0].select(CODES).sort(c.SEEKER_ID)
    assert again.equals(base)
    # what the night stored is the same too
    ours = base.filter(~pl.col(c.SEEKER_ID).str.starts_with("ZZ"))
    assert ours.equals(stored.select(CODES).sort(c.SEEKER_ID))
    assert ours.height == profiles.height and ours["unresolved"].list.len().sum() < ours.height
    # unresolved terms in the profile's order, titles first; D1106 is a known ROME sheet
    odd = base.filter(pl.col(c.SEEKER_ID).str.starts_with("ZZ"))
    assert odd["unresolved"].to_list() == [["Qxzwv brrkt", "Vvvqq", "Pffzt", "Kkxqw"], ["Zzkqp"]]
    assert odd[c.ROME_CODES].to_list() == [["D1106"], []]


def _stored_matches(settings: Settings) -> pl.DataFrame:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return wh.frame("select_matches", {"run_date": NIGHT}).select(list(MATCH_SCHEMA))


def test_matches_do_not_depend_on_row_order_process_threads_or_shards(night: Settings) -> None:
    settings = night
    shards = shard_steps.plan(settings, NIGHT)
    assert len(shards) >= 2
    folder = shard_steps.shard_dir(settings, NIGHT)
    snapshot = {name: (folder / name).read_bytes() for name in SNAPSHOT}
    for shard in shards:
        shard_steps.score_shard(settings, NIGHT, shard)
    shard_steps.merge(settings, NIGHT)
    first = _stored_matches(settings)
    assert first.height > 0

    # planning again writes the same snapshot, byte for byte
    assert shard_steps.plan(settings, NIGHT) == shards
    assert {name: (folder / name).read_bytes() for name in SNAPSHOT} == snapshot
    # the snapshot's rows shuffled, and every shard scored in another process with another polars thread count,
    # as Airflow's mapped tasks run: the merged matches are the same, scores to the last bit
    for name in SNAPSHOT:
        pl.read_parquet(folder / name).sample(fraction=1.0, shuffle=True, seed=5).write_parquet(folder / name)
    threads = "1" if pl.thread_pool_size() > 1 else "3"
    code = (
        "import sys\nfrom tremplin.nightly.tasks import score_shard\n"
        "for s in sys.argv[2:]: score_shard(sys.argv[1], int(s))"
    )
    subprocess.run(
        [sys.executable, "-c", code, NIGHT.isoformat(), *map(str, shards)],
        env={**os.environ, **settings_env(settings), "POLARS_MAX_THREADS": threads},
        cwd=PROJECT_ROOT,
        check=True,
        timeout=600,
    )
    shard_steps.merge(settings, NIGHT)
    assert _stored_matches(settings).equals(first)

    # unsharded, on the inputs in their own order: the same
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers, vacancies = common.load_match_inputs(wh, settings, NIGHT)
    options = shard_steps.scoring_options(settings)
    assert score_matches(seekers, vacancies, **options).equals(first)

    # the top 3 is the head of each seeker's full list ordered by score, then distance, then vacancy id...
    every = score_matches(seekers, vacancies, **{**options, "top_k": 10_000})
    expected = (
        every.sort([c.SEEKER_ID, c.SCORE, c.DISTANCE_KM, c.VACANCY_ID], descending=[False, True, False, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(c.SEEKER_ID).alias(c.RANK))
        .filter(pl.col(c.RANK) <= TOP_K)
    )
    assert first.select(c.SEEKER_ID, c.VACANCY_ID, c.RANK).equals(expected.select(c.SEEKER_ID, c.VACANCY_ID, c.RANK))
    # ... and some cuts fall between equal score and distance, where only the vacancy id decides
    at_cut = (
        every.filter(pl.col(c.RANK).is_in([TOP_K, TOP_K + 1]))
        .group_by(c.SEEKER_ID)
        .agg(pl.len().alias("n"), pl.struct(c.SCORE, c.DISTANCE_KM).n_unique().alias("distinct"))
    )
    assert at_cut.filter((pl.col("n") == 2) & (pl.col("distinct") == 1)).height > 0
