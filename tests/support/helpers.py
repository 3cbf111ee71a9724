"""Test helpers shared by several test modules (plain functions and frames, no fixtures)."""

from __future__ import annotations

import numpy as np
import polars as pl

from matching import columns as c
from matching.rerank import DAY, LABEL

# One ROME mobility link, from sheet R1 to sheet R2: a seeker who wants R1 gets mobility credit on R2.
MOBILITY = pl.DataFrame({c.ROME_CODE: ["R1"], "target_rome_code": ["R2"]})


def simulated_feedback(
    hidden: tuple[float, float, float], *, days: int = 30, per_day: int = 400, seed: int = 1
) -> pl.DataFrame:
    """``per_day`` offers on each of ``days`` days; a seeker says yes with probability sigmoid(hidden . components - 2).

    Eight offers per seeker; ``_hidden`` is the hidden relevance (hidden . components).
    """
    rng = np.random.default_rng(seed)
    n = days * per_day
    x = rng.uniform(0, 1, size=(n, 3))
    p = 1 / (1 + np.exp(-(x @ np.array(hidden) - 2.0)))
    return pl.DataFrame(
        {
            DAY: np.repeat(np.arange(days), per_day),
            c.SEEKER_ID: [f"s{i // 8}" for i in range(n)],
            c.SKILL_SCORE: x[:, 0],
            c.OCCUPATION_SCORE: x[:, 1],
            c.DISTANCE_SCORE: x[:, 2],
            LABEL: (rng.uniform(size=n) < p).astype(int),
            "_hidden": x @ np.array(hidden),
        }
    )
