"""The re-ranker recovers a hidden relevance from simulated feedback, and stays off when it cannot win."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from matching.rerank import DAY, LABEL, RERANK_SCORE, train_reranker
from tests.support.helpers import simulated_feedback


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


HOLDOUT_DAYS, MIN_EXAMPLES = 7, 200  # train_reranker's defaults


def _single_label_in_training(feedback: pl.DataFrame) -> pl.DataFrame:
    """Every training day (all but the last 7) labelled 0; the held-out days keep both labels."""
    cut = feedback[DAY].max() - HOLDOUT_DAYS + 1  # type: ignore[operator]
    return feedback.with_columns(pl.when(pl.col(DAY) < cut).then(0).otherwise(pl.col(LABEL)).alias(LABEL))


def _shortfalls(feedback: pl.DataFrame) -> set[str]:
    """Which of train_reranker's three preconditions the feedback misses (training = all but the last 7 days)."""
    days = feedback[DAY].n_unique()
    train = feedback.filter(pl.col(DAY) < feedback[DAY].max() - HOLDOUT_DAYS + 1)  # type: ignore[operator]
    return {
        name
        for name, missed in (
            ("days", days <= HOLDOUT_DAYS),
            ("examples", train.height < MIN_EXAMPLES),
            ("labels", train[LABEL].n_unique() < 2),
        )
        if missed
    }


# Each case: (too little, just enough, the preconditions missed), so that the None comes from that branch.
TOO_LITTLE = {
    # 7 days are all held out: no training day at all, so no example and no label either, although the
    # 7 x 400 offers would be plenty; 8 days leave 1 training day of 400 >= 200 examples
    "too-few-days": (
        simulated_feedback((1, 1, 1), days=7),
        simulated_feedback((1, 1, 1), days=8),
        {"days", "examples", "labels"},
    ),
    # 8 days of 199 offers: 1 training day of 199 < 200 examples; 200 a day reach the minimum exactly
    "too-few-examples": (
        simulated_feedback((1, 1, 1), days=8, per_day=199),
        simulated_feedback((1, 1, 1), days=8, per_day=200),
        {"examples"},
    ),
    # 30 days, but the 23 training days all labelled 0: nothing to learn from; the untouched feedback trains
    "a-single-label": (
        _single_label_in_training(simulated_feedback((1, 1, 1))),
        simulated_feedback((1, 1, 1)),
        {"labels"},
    ),
}


@pytest.mark.parametrize(("too_little", "enough", "missed"), TOO_LITTLE.values(), ids=TOO_LITTLE.keys())
def test_too_little_feedback_gives_no_model(too_little: pl.DataFrame, enough: pl.DataFrame, missed: set[str]) -> None:
    assert _shortfalls(too_little) == missed
    assert train_reranker(too_little) is None
    # the control, one step over the line, does train
    assert _shortfalls(enough) == set()
    assert train_reranker(enough) is not None
