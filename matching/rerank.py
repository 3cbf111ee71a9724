"""A re-ranker learned from feedback, used only when it beats the default weights on held-out days.

Feedback rows are matches that were offered, with a label: 1 when the seeker answered OUI, was put
forward or hired, 0 when a counsellor marked the match wrong or the seeker said NON. (A NON or no answer
is never exported as a refused offer; here it only teaches the ranking.) The model is a logistic
regression over the score components, so it stays readable: its coefficients are the learned weights.
It is trained on the earlier days and compared with the default weighted sum on the latest days by
ROC AUC and nDCG@10 per seeker; ``use`` is true only when it wins on both, AUC by at least ``min_gain``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from matching import columns as c

FEATURES = (c.SKILL_SCORE, c.OCCUPATION_SCORE, c.DISTANCE_SCORE)
DAY = "day"
LABEL = "label"
RERANK_SCORE = "rerank_score"


@dataclass(frozen=True)
class Reranker:
    """A fitted re-ranker with its evaluation against the default weights."""

    coefficients: tuple[float, ...]
    intercept: float
    metrics: dict[str, float] = field(default_factory=dict)
    use: bool = False

    @property
    def version(self) -> str:
        """A short hash of the parameters, recorded in the run manifest."""
        blob = json.dumps([self.coefficients, self.intercept], sort_keys=True).encode()
        return "lr-" + hashlib.sha256(blob).hexdigest()[:10]

    def manifest(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "features": list(FEATURES),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "metrics": self.metrics,
            "used": self.use,
        }

    def score(self, matches: pl.DataFrame) -> pl.DataFrame:
        """Add ``rerank_score`` (a probability in [0, 1]) to a matches frame."""
        x = matches.select(FEATURES).to_numpy()
        logits = x @ np.array(self.coefficients) + self.intercept
        return matches.with_columns(pl.Series(RERANK_SCORE, 1.0 / (1.0 + np.exp(-logits))))


def _ndcg_at_10(frame: pl.DataFrame, score: str) -> float:
    ranked = frame.sort([c.SEEKER_ID, score], descending=[False, True]).with_columns(
        pl.int_range(1, pl.len() + 1).over(c.SEEKER_ID).alias("_r")
    )
    ideal = frame.sort([c.SEEKER_ID, LABEL], descending=[False, True]).with_columns(
        pl.int_range(1, pl.len() + 1).over(c.SEEKER_ID).alias("_r")
    )

    def dcg(ordered: pl.DataFrame) -> pl.DataFrame:
        return (
            ordered.filter(pl.col("_r") <= 10)
            .group_by(c.SEEKER_ID)
            .agg((pl.col(LABEL) / (pl.col("_r") + 1).log(2)).sum().alias("dcg"))
        )

    table = dcg(ranked).join(dcg(ideal).rename({"dcg": "idcg"}), on=c.SEEKER_ID).filter(pl.col("idcg") > 0)
    return float((table["dcg"] / table["idcg"]).mean()) if table.height else 0.0  # type: ignore[arg-type]


def train_reranker(
    feedback: pl.DataFrame,
    *,
    default_weights: tuple[float, float, float] = (0.55, 0.25, 0.20),
    holdout_days: int = 7,
    min_examples: int = 200,
    min_gain: float = 0.005,
) -> Reranker | None:
    """Fit on all days but the last ``holdout_days``, evaluate on those; None when there is too little data.

    ``feedback`` has day, seeker_id, the three score components and label (0 or 1).
    """
    days = sorted(feedback.get_column(DAY).unique().to_list())
    if len(days) <= holdout_days:
        return None
    cut = days[-holdout_days]
    train = feedback.filter(pl.col(DAY) < cut)
    test = feedback.filter(pl.col(DAY) >= cut)
    if train.height < min_examples or test.height == 0 or train.get_column(LABEL).n_unique() < 2:
        return None
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(train.select(FEATURES).to_numpy(), train.get_column(LABEL).to_numpy())
    fitted = Reranker(tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))
    scored = fitted.score(test).with_columns(
        pl.sum_horizontal([w * pl.col(f) for w, f in zip(default_weights, FEATURES, strict=True)]).alias("_default")
    )
    labels = scored.get_column(LABEL).to_numpy()
    metrics: dict[str, float] = {"train_examples": float(train.height), "test_examples": float(test.height)}
    if len(np.unique(labels)) == 2:
        metrics["auc_reranker"] = float(roc_auc_score(labels, scored.get_column(RERANK_SCORE).to_numpy()))
        metrics["auc_default"] = float(roc_auc_score(labels, scored.get_column("_default").to_numpy()))
    metrics["ndcg10_reranker"] = _ndcg_at_10(scored, RERANK_SCORE)
    metrics["ndcg10_default"] = _ndcg_at_10(scored, "_default")
    wins = metrics.get("auc_reranker", 0) > metrics.get("auc_default", 1) + min_gain and (
        metrics["ndcg10_reranker"] > metrics["ndcg10_default"]
    )
    return Reranker(fitted.coefficients, fitted.intercept, {k: round(v, 4) for k, v in metrics.items()}, wins)
