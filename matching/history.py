"""What other nights already did, as the caps and the "never the same offer twice" rule need it.

Pure: frames in, frames out. The nightly route step reads the frames from the operational store.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from matching import columns as c

PAIR = [c.SEEKER_ID, c.VACANCY_ID]
FIRST_NIGHT = "first_night"


def split_by_night(first: pl.DataFrame, run_date: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The (seeker, vacancy) pairs of ``first`` (one row per pair with the night it was first offered on,
    ``first_night``) offered before ``run_date``, on it and after it.

    >>> first = pl.DataFrame({"seeker_id": ["a", "b"], "vacancy_id": ["v", "v"],
    ...                       "first_night": [date(2026, 11, 22), date(2026, 11, 24)]})
    >>> [part.height for part in split_by_night(first, date(2026, 11, 23))]
    [1, 0, 1]
    """
    night = pl.col(FIRST_NIGHT)
    before, own, later = (
        first.filter(keep).select(PAIR) for keep in (night < run_date, night == run_date, night > run_date)
    )
    return before, own, later


def with_later_nights(
    history: pl.DataFrame, *, every: pl.DataFrame, upto: pl.DataFrame, week_after: pl.DataFrame
) -> pl.DataFrame:
    """The caps' ``history`` of a backfilled night (``sms_today``, ``offers_week`` per seeker, counted on the
    nights before it) plus what later nights did: their SMS still waiting to go out (they would reach the seeker
    the same day: ``every`` minus ``upto``, the counts over all nights and up to the backfilled night included)
    and the offers of the 6 nights after (``week_after``: the weekly cap holds on both sides). The night's own
    offers never count, so that a re-run sees what its first run saw.

    >>> counts = lambda sms, week: pl.DataFrame({"seeker_id": ["a"], "sms_today": [sms], "offers_week": [week]})
    >>> with_later_nights(counts(0, 1), every=counts(3, 0), upto=counts(1, 0), week_after=counts(0, 2)).row(0)
    ('a', 2, 3)
    """
    later = (
        every.select(c.SEEKER_ID, pl.col("sms_today").alias("_every"))
        .join(upto.select(c.SEEKER_ID, pl.col("sms_today").alias("_upto")), on=c.SEEKER_ID, how="left")
        .join(week_after.select(c.SEEKER_ID, pl.col("offers_week").alias("_after")), on=c.SEEKER_ID, how="left")
        .select(
            c.SEEKER_ID,
            (pl.col("_every").fill_null(0) - pl.col("_upto").fill_null(0)).alias("_later_sms"),
            pl.col("_after").fill_null(0).alias("_later_offers"),
        )
    )
    return (
        history.join(later, on=c.SEEKER_ID, how="full", coalesce=True)
        .with_columns(
            (pl.col("sms_today").fill_null(0) + pl.col("_later_sms").fill_null(0)).alias("sms_today"),
            (pl.col("offers_week").fill_null(0) + pl.col("_later_offers").fill_null(0)).alias("offers_week"),
        )
        .select(history.columns)
    )
