"""The score step in shards: plan exports Parquet, shards never touch the warehouse, merge equals unsharded."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.score import score_matches
from tremplin.dev.generate import generate
from tremplin.errors import TremplinError
from tremplin.nightly import common, ingest, normalize
from tremplin.nightly import shards as shard_steps
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)


@pytest.fixture(scope="module")
def normalized(tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path) -> Settings:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path_factory.mktemp("shards"))
    generate(reference, seekers=1_500, vacancies=500, seed=4, out_dir=settings.inbox / NIGHT.isoformat())
    ingest.ingest(settings, NIGHT)
    normalize.normalize(settings, NIGHT)
    return settings


def test_shards_read_only_parquet_and_the_merge_equals_unsharded(normalized: Settings) -> None:
    settings = normalized
    shards = shard_steps.plan(settings, NIGHT)
    assert shards == list(range(len(shards))) and len(shards) >= 2
    # the warehouse is out of reach while shards run: they read only the Parquet snapshot
    hidden = settings.warehouse.with_suffix(".hidden")
    settings.warehouse.rename(hidden)
    try:
        results = [shard_steps.score_shard(settings, NIGHT, shard) for shard in shards]
        # opening the warehouse would have failed (read-only) or created a new empty file at its path
        assert not settings.warehouse.exists()
    finally:
        settings.warehouse.unlink(missing_ok=True)
        hidden.rename(settings.warehouse)
    merged = shard_steps.merge(settings, NIGHT)
    assert merged["matches"] == sum(r["matches"] for r in results) > 0
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers, vacancies = common.load_match_inputs(wh, settings, NIGHT)
        stored = wh.frame("select_matches", {"run_date": NIGHT})
    whole = score_matches(seekers, vacancies, **shard_steps.scoring_options(settings))
    columns = [c.SEEKER_ID, c.VACANCY_ID, c.RANK, c.SCORE, c.DISTANCE_KM]
    assert stored.select(columns).sort(c.SEEKER_ID, c.RANK).equals(whole.select(columns))


def test_merge_refuses_a_partial_night(normalized: Settings) -> None:
    shards = shard_steps.plan(normalized, NIGHT)
    for shard in shards[1:]:
        shard_steps.score_shard(normalized, NIGHT, shard)
    with pytest.raises(TremplinError, match=r"matches-0000\.parquet"):
        shard_steps.merge(normalized, NIGHT)
    shutil.rmtree(shard_steps.shard_dir(normalized, NIGHT))
    with pytest.raises(TremplinError, match="no shard plan"):
        shard_steps.merge(normalized, NIGHT)
