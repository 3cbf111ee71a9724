"""The relevance benchmark: metrics checked by hand, and tremplin ahead of both baselines."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from connectors.reference import Reference
from matching import columns as c
from tremplin.bench.quality import metrics, quality_benchmark


def test_metrics_by_hand() -> None:
    # One seeker, three candidates: A (rel 2), B (rel 1), C (rel 0). Ranked C, A: B is not retrieved.
    pool = pl.DataFrame({c.SEEKER_ID: ["s"] * 3, c.VACANCY_ID: ["A", "B", "C"], "relevance": [2, 1, 0]})
    ranked = pl.DataFrame({c.SEEKER_ID: ["s", "s"], c.VACANCY_ID: ["C", "A"], c.RANK: [1, 2]})
    got = metrics(ranked, pool)
    # gain = 2^relevance - 1: A 3, B 1, C 0; discount 1 / log2(rank + 1)
    # DCG = 0 / log2(2) + 3 / log2(3); ideal order A, B, C: 3 / log2(2) + 1 / log2(3) + 0 / log2(4)
    # nDCG = (3 / log2(3)) / (3 + 1 / log2(3)) = 1.892789 / 3.630930 = 0.521298, reported to 4 decimals
    assert got["ndcg_at_10"] == pytest.approx((3 / math.log2(3)) / (3 + 1 / math.log2(3)), abs=5e-5)
    # recall: 1 of the 2 relevant vacancies
    assert got["recall_at_10"] == pytest.approx(0.5)
    assert got["seekers_evaluated"] == 1


def test_tremplin_beats_both_baselines(reference: Reference, data_dir: Path) -> None:
    result = quality_benchmark(reference, data_dir, seekers=300, vacancies=2_000, seed=5)
    ours = result["tremplin"]
    for baseline in ("baseline_rome_code_and_distance", "baseline_rapidfuzz_title_and_distance"):
        assert ours["ndcg_at_10"] > result[baseline]["ndcg_at_10"], baseline
        assert ours["recall_at_10"] > result[baseline]["recall_at_10"], baseline
    assert ours["seekers_evaluated"] >= 250
