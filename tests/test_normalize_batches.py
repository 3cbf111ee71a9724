"""The normalize step reads, normalizes and writes profiles a batch at a time: the batches change no code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from tremplin import pipeline
from tremplin.generate import generate
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)


def _ingested(home: Path, reference: Reference, data_dir: Path) -> Settings:
    settings = Settings.from_env({}, data_dir=data_dir, home=home)
    generate(reference, seekers=700, vacancies=100, seed=9, out_dir=settings.inbox / NIGHT.isoformat())
    pipeline.ingest(settings, NIGHT)
    return settings


def test_batches_give_the_codes_of_one_pass(tmp_path: Path, reference: Reference, data_dir: Path) -> None:
    whole = _ingested(tmp_path / "whole", reference, data_dir)
    batched = _ingested(tmp_path / "batched", reference, data_dir)
    one = pipeline.normalize(whole, NIGHT)
    many = pipeline.normalize(batched, NIGHT, batch=64)  # 700 profiles: 10 full batches and one of 60
    assert many == one and one["seekers"] > 600
    with Warehouse.open(whole.warehouse, read_only=True) as a, Warehouse.open(batched.warehouse, read_only=True) as b:
        codes_a = a.table("seeker_codes").sort(c.SEEKER_ID)
        codes_b = b.table("seeker_codes").sort(c.SEEKER_ID)
    assert codes_a.height == one["seekers"]
    assert codes_b.equals(codes_a)
    # nothing left: a second run finds every profile normalized
    assert pipeline.normalize(batched, NIGHT, batch=64)["seekers"] == 0


@pytest.mark.parametrize("batch", [1, 700, 701])  # one at a time; the 700 generated in one; one more than all
def test_batch_edges(tmp_path: Path, reference: Reference, data_dir: Path, batch: int) -> None:
    settings = _ingested(tmp_path, reference, data_dir)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers = wh.table("seekers").height  # every loaded profile is new, so all are normalized
    assert pipeline.normalize(settings, NIGHT, batch=batch)["seekers"] == seekers
