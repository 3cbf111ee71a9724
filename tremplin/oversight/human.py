"""Human oversight: how often counsellors overrule the system's matches, per agency and over time.

A *decision* is a counsellor's verdict on a proposed match: put_forward, hired, not_interested,
wrong_match or flag. An *override* is a decision that says the match is wrong (wrong_match) or needs a
second look (flag). Other actions (contacted, reassign, reopen, notes, views) judge nothing and are
ignored. Actions are counted, not items: an item flagged and then marked wrong_match counts twice.

For ops: a high rate says the matches are poor for an agency's seekers or vacancies; a rate near zero over
many decisions is a warning sign, not a success: counsellors may be approving what the system proposes
without checking it (rubber-stamping), which human oversight of a high-risk system is there to prevent.
"""

from __future__ import annotations

import polars as pl

from tremplin.oversight import OversightError
from tremplin.oversight import columns as o

EVENTS: dict[str, pl.DataType] = {o.AGENCY_ID: pl.String(), o.ACTION: pl.String()}
UTC_TIME = pl.Datetime("us", "UTC")
OVERALL = "_overall"


def _tally(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Decisions, overrides and their rate (null without decisions) per ``by``."""
    return (
        frame.group_by(by)
        .agg(
            pl.col(o.ACTION).is_in(o.DECISION_ACTIONS).sum().cast(pl.Int64).alias(o.DECISIONS),
            pl.col(o.ACTION).is_in(o.OVERRIDE_ACTIONS).sum().cast(pl.Int64).alias(o.OVERRIDES),
        )
        .with_columns(pl.when(pl.col(o.DECISIONS) > 0).then(pl.col(o.OVERRIDES) / pl.col(o.DECISIONS)).alias(o.RATE))
    )


def override_rates(events: pl.DataFrame, *, low_rate: float = 0.02, min_decisions: int = 20) -> pl.DataFrame:
    """Per agency seen in ``events`` (agency_id, action): decisions, overrides, rate and two flags.

    ``rubber_stamp``: at least ``min_decisions`` decisions and a rate under ``low_rate``.
    ``too_few``: fewer than ``min_decisions`` decisions, too few to read anything in the rate.
    """
    enough = pl.col(o.DECISIONS) >= min_decisions
    return (
        _tally(o.take(events, EVENTS, "events"), [o.AGENCY_ID])
        .with_columns(
            (enough & (pl.col(o.RATE) < low_rate)).fill_null(False).alias(o.RUBBER_STAMP),
            (~enough).alias(o.TOO_FEW),
        )
        .sort(o.AGENCY_ID, nulls_last=True)
    )


def override_trend(events: pl.DataFrame, *, every: str = "1w") -> pl.DataFrame:
    """Decisions, overrides and rate per period and agency, with a row for all agencies first in each period.

    ``events``: at (UTC; naive times are read as UTC), agency_id, action. Periods are polars durations
    (``1d``, ``1w`` from Monday, ``1mo``) cut in UTC, which never splits a counsellor's working day in
    France. Periods, and agencies within a period, without decisions are absent.
    """
    frame = o.take(events, {o.AT: UTC_TIME, **EVENTS}, "events")
    try:
        start = frame[o.AT].dt.truncate(every)
    except pl.exceptions.PolarsError as error:
        raise OversightError(f"every={every!r}: not a polars duration such as 1d, 1w or 1mo") from error
    decided = frame.with_columns(start.alias(o.PERIOD_START)).filter(pl.col(o.ACTION).is_in(o.DECISION_ACTIONS))
    overall = _tally(decided, [o.PERIOD_START]).with_columns(
        pl.lit(o.ALL_AGENCIES).alias(o.AGENCY_ID), pl.lit(True).alias(OVERALL)
    )
    per_agency = _tally(decided, [o.PERIOD_START, o.AGENCY_ID]).with_columns(pl.lit(False).alias(OVERALL))
    return (
        pl.concat([overall, per_agency], how="diagonal")
        .sort([o.PERIOD_START, OVERALL, o.AGENCY_ID], descending=[False, True, False], nulls_last=True)
        .select(o.PERIOD_START, o.AGENCY_ID, o.DECISIONS, o.OVERRIDES, o.RATE)
    )
