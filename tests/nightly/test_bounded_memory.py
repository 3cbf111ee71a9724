"""Bounded memory at scale: normalize reads profiles a batch at a time, DuckDB keeps to its memory limit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.normalize import TEXT, TaxonomyIndex
from tremplin.dev.generate import generate
from tremplin.errors import ConfigError
from tremplin.nightly import ingest, normalize
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)


def _ingested(home: Path, reference: Reference, data_dir: Path) -> Settings:
    settings = Settings.from_env({}, data_dir=data_dir, home=home)
    generate(reference, seekers=700, vacancies=100, seed=9, out_dir=settings.inbox / NIGHT.isoformat())
    ingest.ingest(settings, NIGHT)
    return settings


def test_batches_give_the_codes_of_one_pass(
    tmp_path: Path, reference: Reference, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _ingested(tmp_path / "whole", reference, data_dir)
    batched = _ingested(tmp_path / "batched", reference, data_dir)
    one = normalize.normalize(whole, NIGHT)
    searched: list[str] = []
    best = TaxonomyIndex.best

    def counting(self: TaxonomyIndex, queries: pl.DataFrame, *, min_score: float) -> pl.DataFrame:
        searched.extend(queries.get_column(TEXT).to_list())
        return best(self, queries, min_score=min_score)

    monkeypatch.setattr(TaxonomyIndex, "best", counting)
    many = normalize.normalize(batched, NIGHT, batch=64)  # 700 profiles: 10 full batches and one of 60
    # every distinct free-text title or skill was searched in one batch only
    assert len(searched) == len(set(searched)) > 100
    assert many == one and one["seekers"] > 600
    with Warehouse.open(whole.warehouse, read_only=True) as a, Warehouse.open(batched.warehouse, read_only=True) as b:
        codes_a = a.table("seeker_codes").sort(c.SEEKER_ID)
        codes_b = b.table("seeker_codes").sort(c.SEEKER_ID)
    assert codes_a.height == one["seekers"]
    assert codes_b.equals(codes_a)
    # nothing left: a second run finds every profile normalized
    assert normalize.normalize(batched, NIGHT, batch=64)["seekers"] == 0


@pytest.mark.parametrize("batch", [1, 700, 701])  # one at a time; the 700 generated in one; one more than all
def test_batch_edges(tmp_path: Path, reference: Reference, data_dir: Path, batch: int) -> None:
    settings = _ingested(tmp_path, reference, data_dir)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers = wh.table("seekers").height  # every loaded profile is new, so all are normalized
    assert normalize.normalize(settings, NIGHT, batch=batch)["seekers"] == seekers


def test_the_warehouse_memory_limit_reaches_duckdb(tmp_path: Path, data_dir: Path) -> None:
    settings = Settings.from_env({"TREMPLIN_WAREHOUSE_MEMORY_LIMIT": "300MiB"}, data_dir=data_dir, home=tmp_path)
    with Warehouse.of(settings) as wh:
        ((limit,),) = wh.con.execute("select current_setting('memory_limit')").fetchall()
    assert limit in ("300.0 MiB", "314.5 MB")  # DuckDB shows it in its own unit
    none = Settings.from_env({"TREMPLIN_WAREHOUSE_MEMORY_LIMIT": "none"}, data_dir=data_dir, home=tmp_path)
    assert none.warehouse_memory is None
    with pytest.raises(ConfigError, match="warehouse_memory_limit must read like 4GB"):
        Settings.from_env({"TREMPLIN_WAREHOUSE_MEMORY_LIMIT": "lots"}, data_dir=data_dir, home=tmp_path)
