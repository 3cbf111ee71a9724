"""Fairness audit: do the night's matches, routing and outcomes differ between groups of seekers?

Groups come from five dimensions: gender, age band, disability, rurality (the INSEE density level of the
seeker's commune, "1" densest to "7" most rural) and agency. Per group, six metrics, each over its own
denominator:

| metric | value | denominator | what ops read in it |
|---|---|---|---|
| match_rate | seekers with at least one match | seekers | does the system find offers for this group? |
| mean_score | mean score of the best match | matched seekers | are the offers it finds as good? |
| sms_share | routed to SMS | seekers routed to SMS or a counsellor | who gets a text rather than a call |
| counsellor_share | routed to a counsellor | the same | who gets a call rather than a text |
| reply_rate | replied | seekers texted | do the texts reach and interest them? |
| positive_rate | said OUI, put forward or hired | seekers offered (texted or queued) | do offers lead somewhere? |

Each value is compared with the best group's of its dimension and metric, the highest value among groups
with at least ``min_group_size`` in the denominator, "non renseigné" excluded: ratio = value / best value.
Such a group is *judged*; a judged group whose ratio is under ``threshold`` (0.8: the "four-fifths rule"
of adverse impact) is a *breach*, for the metrics where higher is better. The routing shares are
reported with their ratios but never flagged: whether a counsellor's call or an SMS serves a person
better is not a one-way judgement (a call is the better service for a seeker with little mobile access).
When every judged group is at 0 there is no disparity to measure: no ratio, no breach.

Gender, birth year and disability are read here only, and leave this module only as group labels.
"""

from __future__ import annotations

import math

import polars as pl
from scipy.special import erfc

from tremplin.oversight import OversightError
from tremplin.oversight import columns as o

NUMERATOR = "numerator"
FLAGS = (o.MATCHED, o.TEXTED, o.REPLIED, o.POSITIVE, o.OFFERED)
INPUT: dict[str, pl.DataType] = {
    o.SEEKER_ID: pl.String(),
    o.GENDER: pl.String(),
    o.BIRTH_YEAR: pl.Int64(),
    o.DISABILITY: pl.Boolean(),
    o.DENSITY_LEVEL: pl.Int64(),
    o.AGENCY_ID: pl.String(),
    o.BEST_SCORE: pl.Float64(),
    o.CHANNEL: pl.String(),
    **{flag: pl.Boolean() for flag in FLAGS},
}
OUTPUT: dict[str, pl.DataType] = {
    o.DIMENSION: pl.String(),
    o.GROUP: pl.String(),
    o.METRIC: pl.String(),
    o.SEEKERS: pl.Int64(),
    o.DENOMINATOR: pl.Int64(),
    o.VALUE: pl.Float64(),
    o.BEST_GROUP: pl.String(),
    o.BEST_VALUE: pl.Float64(),
    o.RATIO: pl.Float64(),
    o.P_VALUE: pl.Float64(),
    o.JUDGED: pl.Boolean(),
    o.BREACH: pl.Boolean(),
}


def age_band(birth_year: pl.Expr, run_year: int) -> pl.Expr:
    """France Travail's age bands, with age = run_year - birth_year; unknown (or future) birth years apart."""
    age = pl.lit(run_year) - birth_year
    return (
        pl.when(birth_year.is_null() | (age < 0))
        .then(pl.lit(o.UNKNOWN))
        .when(age < 26)
        .then(pl.lit(o.UNDER_26))
        .when(age < 50)
        .then(pl.lit(o.FROM_26_TO_49))
        .otherwise(pl.lit(o.FROM_50))
    )


def _labels(run_year: int) -> dict[str, pl.Expr]:
    """Dimension -> each seeker's group in it."""
    return {
        o.BY_GENDER: pl.col(o.GENDER).fill_null(o.UNKNOWN),
        o.BY_AGE: age_band(pl.col(o.BIRTH_YEAR), run_year),
        o.BY_DISABILITY: pl.when(pl.col(o.DISABILITY).is_null())
        .then(pl.lit(o.UNKNOWN))
        .when(pl.col(o.DISABILITY))
        .then(pl.lit(o.YES))
        .otherwise(pl.lit(o.NO)),
        o.BY_RURALITY: pl.col(o.DENSITY_LEVEL).cast(pl.String).fill_null(o.UNKNOWN),
        o.BY_AGENCY: pl.col(o.AGENCY_ID).fill_null(o.UNKNOWN),
    }


def _parts() -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """Metric -> (what a seeker adds to the numerator, whether the seeker is in the denominator)."""
    channel = pl.col(o.CHANNEL)
    routed = channel.is_in([o.CHANNEL_SMS, o.CHANNEL_COUNSELLOR]).fill_null(False)
    return {
        o.MATCH_RATE: (pl.col(o.MATCHED), pl.lit(True)),
        o.MEAN_SCORE: (pl.col(o.BEST_SCORE), pl.col(o.MATCHED) & pl.col(o.BEST_SCORE).is_not_null()),
        o.SMS_SHARE: (channel == o.CHANNEL_SMS, routed),
        o.COUNSELLOR_SHARE: (channel == o.CHANNEL_COUNSELLOR, routed),
        o.REPLY_RATE: (pl.col(o.REPLIED), pl.col(o.TEXTED)),
        o.POSITIVE_RATE: (pl.col(o.POSITIVE), pl.col(o.OFFERED)),
    }


def _p_value(x1: pl.Expr, n1: pl.Expr, x2: pl.Expr, n2: pl.Expr) -> pl.Expr:
    """Two-sided p-value of the pooled two-proportion z-test (x successes out of n, for two groups)."""
    pooled = (x1 + x2) / (n1 + n2)
    spread = (pooled * (1 - pooled) * (1 / n1 + 1 / n2)).sqrt()
    z = ((x1 / n1 - x2 / n2) / spread).abs()
    return (
        pl.when(spread > 0)
        .then((z / math.sqrt(2)).map_batches(lambda s: pl.Series(erfc(s.to_numpy())), return_dtype=pl.Float64))
        .otherwise(1.0)
    )


def fairness_audit(
    seekers: pl.DataFrame,
    *,
    run_year: int,
    threshold: float = 0.8,
    min_group_size: int = 30,
    alpha: float | None = None,
) -> pl.DataFrame:
    """One row per (dimension, group, metric): the group's value, the best group's, their ratio, the breach.

    ``seekers``: one row per seeker active in the night with the columns of ``INPUT`` (others are not read;
    null flags count as false). With ``alpha``, a rate under the threshold is a breach only when it also
    differs from the best group's at that significance (``p_value``, a two-proportion z-test): with small
    counts a ratio swings far by chance, and ops who are alerted by noise stop reading the alerts.
    """
    frame = o.take(seekers, INPUT, "seekers").with_columns(pl.col(*FLAGS).fill_null(False))
    twice = frame.filter(pl.col(o.SEEKER_ID).is_duplicated())[o.SEEKER_ID].unique().sort()
    if len(twice):
        raise OversightError(f"seekers: seeker_id {', '.join(twice.head(5))} on more than one row")
    parts = frame.select(
        *[label.alias(dimension) for dimension, label in _labels(run_year).items()],
        *[
            column
            for metric, (numerator, included) in _parts().items()
            for column in (
                pl.when(included).then(numerator.cast(pl.Float64)).otherwise(0.0).alias(f"{metric}/num"),
                included.cast(pl.Int64).alias(f"{metric}/den"),
            )
        ],
    )
    sums = [
        # summed in sorted order, so that the float sums do not depend on the order of the rows
        pl.col(f"{metric}/{part}").sort().sum()
        for metric in o.METRICS
        for part in ("num", "den")
    ]
    per_group = pl.concat(
        parts.group_by(pl.col(dimension).alias(o.GROUP))
        .agg(pl.len().cast(pl.Int64).alias(o.SEEKERS), *sums)
        .with_columns(pl.lit(dimension).alias(o.DIMENSION))
        for dimension in o.DIMENSIONS
    )
    long = pl.concat(
        per_group.select(
            o.DIMENSION,
            o.GROUP,
            pl.lit(metric).alias(o.METRIC),
            o.SEEKERS,
            pl.col(f"{metric}/den").alias(o.DENOMINATOR),
            pl.col(f"{metric}/num").alias(NUMERATOR),
            pl.when(pl.col(f"{metric}/den") > 0).then(pl.col(f"{metric}/num") / pl.col(f"{metric}/den")).alias(o.VALUE),
        )
        for metric in o.METRICS
    ).with_columns(
        (
            (pl.col(o.DENOMINATOR) >= min_group_size) & (pl.col(o.DENOMINATOR) > 0) & (pl.col(o.GROUP) != o.UNKNOWN)
        ).alias(o.JUDGED)
    )
    best = (
        long.filter(o.JUDGED)
        .group_by(o.DIMENSION, o.METRIC)
        .agg(
            pl.col(o.GROUP).sort_by(o.VALUE, o.GROUP, descending=[True, False]).first().alias(o.BEST_GROUP),
            pl.col(o.VALUE).max().alias(o.BEST_VALUE),
            pl.col(NUMERATOR).sort_by(o.VALUE, o.GROUP, descending=[True, False]).first().alias("best/num"),
            pl.col(o.DENOMINATOR).sort_by(o.VALUE, o.GROUP, descending=[True, False]).first().alias("best/den"),
        )
    )
    is_rate = pl.col(o.METRIC) != o.MEAN_SCORE
    p_value = pl.when(is_rate & pl.col("best/den").is_not_null() & (pl.col(o.DENOMINATOR) > 0)).then(
        _p_value(pl.col(NUMERATOR), pl.col(o.DENOMINATOR), pl.col("best/num"), pl.col("best/den"))
    )
    significant = pl.lit(True) if alpha is None else pl.col(o.P_VALUE).is_null() | (pl.col(o.P_VALUE) < alpha)
    ratio = pl.when(pl.col(o.BEST_VALUE) > 0).then(pl.col(o.VALUE) / pl.col(o.BEST_VALUE))
    flagged = pl.col(o.JUDGED) & ~pl.col(o.METRIC).is_in(o.ROUTING_SHARES) & (pl.col(o.RATIO) < threshold) & significant
    return (
        long.join(best, on=[o.DIMENSION, o.METRIC], how="left")
        .with_columns(ratio.alias(o.RATIO), p_value.alias(o.P_VALUE))
        .with_columns(flagged.fill_null(False).alias(o.BREACH))
        .sort(
            pl.col(o.DIMENSION).cast(pl.Enum(o.DIMENSIONS)),
            pl.col(o.GROUP) == o.UNKNOWN,
            o.GROUP,
            pl.col(o.METRIC).cast(pl.Enum(o.METRICS)),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in OUTPUT.items())
    )
