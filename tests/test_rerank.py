"""The re-ranker recovers a hidden relevance from simulated feedback, and stays off when it cannot win."""

from __future__ import annotations

import numpy as np
import polars as pl

from matching import columns as c
from matching.rerank import DAY, LABEL, RERANK_SCORE, train_reranker


def simulated_feedback(hidden: tuple[float, float, float], *, days: int = 30, seed: int = 1) -> pl.DataFrame:
    """Offers over ``days`` days; a seeker says yes with probability sigmoid(hidden . components - 2)."""
    rng = np.random.default_rng(seed)
    n = days * 400
    x = rng.uniform(0, 1, size=(n, 3))
    p = 1 / (1 + np.exp(-(x @ np.array(hidden) - 2.0)))
    return pl.DataFrame(
        {
            DAY: np.repeat(np.arange(days), 400),
            c.SEEKER_ID: [f"s{i // 8}" for i in range(n)],
            c.SKILL_SCORE: x[:, 0],
            c.OCCUPATION_SCORE: x[:, 1],
            c.DISTANCE_SCORE: x[:, 2],
            LABEL: (rng.uniform(size=n) < p).astype(int),
            "_hidden": x @ np.array(hidden),
        }
    )


def test_recovers_a_hidden_preference_for_distance() -> None:
    # The hidden truth: seekers care about distance far more than the default weights assume.
    feedback = simulated_feedback((0.5, 0.2, 4.0))
    model = train_reranker(feedback)
    assert model is not None
    skill, occupation, distance = model.coefficients
    assert distance > 2 * skill and distance > 2 * occupation
    assert model.use, model.metrics
    assert model.metrics["auc_reranker"] > model.metrics["auc_default"]
    # its ranking follows the hidden relevance almost perfectly (Spearman-like rank correlation)
    scored = model.score(feedback).select(pl.col(RERANK_SCORE).rank(), pl.col("_hidden").rank())
    assert np.corrcoef(scored.to_numpy().T)[0, 1] > 0.99
    assert model.manifest()["version"].startswith("lr-")


def test_stays_off_when_the_default_weights_are_the_truth() -> None:
    feedback = simulated_feedback((0.55 * 4, 0.25 * 4, 0.20 * 4))
    model = train_reranker(feedback)
    assert model is not None
    # same ordering as the default: it cannot beat it by a real margin, so it is not used
    assert abs(model.metrics["auc_reranker"] - model.metrics["auc_default"]) < 0.005
    assert not model.use


def test_too_little_feedback_gives_no_model() -> None:
    assert train_reranker(simulated_feedback((1, 1, 1), days=5)) is None
