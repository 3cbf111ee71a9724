"""Tonight's offers: each routed seeker's best match not offered before, under the vacancy caps.

A vacancy's short list is bounded by ``shortlist_per_position`` times its positions, counting what was
offered on earlier nights. Seekers propose their best remaining match; a vacancy keeps the best-scored
proposals up to its remaining room; rejected seekers propose their next match. Rounds repeat until
nothing changes (a deferred-acceptance assignment, deterministic for a given input).
"""

from __future__ import annotations

import polars as pl

from matching import columns as c

OFFERED = "offered_count"
NO_OFFER_LEFT = "no_offer_left"


def select_offers(
    matches: pl.DataFrame,
    routing: pl.DataFrame,
    vacancies: pl.DataFrame,
    *,
    already_offered: pl.DataFrame,
    vacancy_load: pl.DataFrame,
    shortlist_per_position: int = 5,
    offers_per_seeker: int = 1,
) -> pl.DataFrame:
    """One row per offer made tonight: seeker_id, vacancy_id, channel, reason and the match columns.

    ``already_offered``: seeker_id, vacancy_id offered on earlier nights (never offered twice).
    ``vacancy_load``: vacancy_id, offered_count on earlier nights.
    """
    routed = routing.filter(pl.col(c.CHANNEL).is_in([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR]))
    pool = (
        matches.join(routed, on=c.SEEKER_ID, how="inner")
        .join(already_offered.select(c.SEEKER_ID, c.VACANCY_ID), on=[c.SEEKER_ID, c.VACANCY_ID], how="anti")
        .sort([c.SEEKER_ID, c.SCORE, c.VACANCY_ID], descending=[False, True, False])
    )
    room = (
        vacancies.select(c.VACANCY_ID, (pl.col(c.POSITIONS) * shortlist_per_position).alias("_room"))
        .join(vacancy_load.select(c.VACANCY_ID, OFFERED), on=c.VACANCY_ID, how="left")
        .select(c.VACANCY_ID, (pl.col("_room") - pl.col(OFFERED).fill_null(0)).clip(0, None).alias("_room"))
    )
    accepted = pool.clear()
    rejected = pool.clear().select(c.SEEKER_ID, c.VACANCY_ID)
    while True:
        need = accepted.group_by(c.SEEKER_ID).len().rename({"len": "_have"})
        proposals = (
            pool.join(rejected, on=[c.SEEKER_ID, c.VACANCY_ID], how="anti")
            .join(accepted.select(c.SEEKER_ID, c.VACANCY_ID), on=[c.SEEKER_ID, c.VACANCY_ID], how="anti")
            .join(need, on=c.SEEKER_ID, how="left", maintain_order="left")  # the position picks the offer
            .filter(pl.col("_have").fill_null(0) < offers_per_seeker)
            .with_columns(pl.int_range(pl.len()).over(c.SEEKER_ID).alias("_n"))
            .filter(pl.col("_n") < offers_per_seeker - pl.col("_have").fill_null(0))
            .drop("_have", "_n")
        )
        if proposals.is_empty():
            break
        contenders = (
            pl.concat([accepted, proposals])
            .join(room, on=c.VACANCY_ID, how="left")
            .sort([c.VACANCY_ID, c.SCORE, c.SEEKER_ID], descending=[False, True, False])
            .with_columns(pl.int_range(pl.len()).over(c.VACANCY_ID).alias("_place"))
        )
        keep = contenders.filter(pl.col("_place") < pl.col("_room").fill_null(0)).drop("_room", "_place")
        dropped = contenders.filter(pl.col("_place") >= pl.col("_room").fill_null(0)).select(c.SEEKER_ID, c.VACANCY_ID)
        accepted, rejected = keep, pl.concat([rejected, dropped])
    return accepted.sort([c.SEEKER_ID, c.SCORE], descending=[False, True])


def final_routing(routing: pl.DataFrame, offers: pl.DataFrame) -> pl.DataFrame:
    """Routing with tonight's vacancy; routed seekers left without an offer become suppressed."""
    best = offers.sort(c.SCORE, descending=True).unique(c.SEEKER_ID, keep="first").select(c.SEEKER_ID, c.VACANCY_ID)
    out = routing.join(best, on=c.SEEKER_ID, how="left")
    routed = pl.col(c.CHANNEL).is_in([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR])
    left_out = routed & pl.col(c.VACANCY_ID).is_null()
    return out.with_columns(
        pl.when(left_out).then(pl.lit(c.CHANNEL_SUPPRESSED)).otherwise(pl.col(c.CHANNEL)).alias(c.CHANNEL),
        pl.when(left_out).then(pl.lit(NO_OFFER_LEFT)).otherwise(pl.col(c.REASON)).alias(c.REASON),
    )


def shortlists(matches: pl.DataFrame, vacancies: pl.DataFrame, *, shortlist_per_position: int = 5) -> pl.DataFrame:
    """Per vacancy, the best-scored seekers among those who have it in their top-k, at most
    ``shortlist_per_position`` times its positions: the list a counsellor starts from (Match FT).

    Returns vacancy_id, rank, seeker_id, score.
    """
    cap = vacancies.select(c.VACANCY_ID, (pl.col(c.POSITIONS) * shortlist_per_position).alias("_cap"))
    return (
        matches.select(c.VACANCY_ID, c.SEEKER_ID, c.SCORE)
        .join(cap, on=c.VACANCY_ID, how="inner")
        .sort([c.VACANCY_ID, c.SCORE, c.SEEKER_ID], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over(c.VACANCY_ID).cast(pl.Int32).alias(c.RANK))
        .filter(pl.col(c.RANK) <= pl.col("_cap"))
        .select(c.VACANCY_ID, c.RANK, c.SEEKER_ID, c.SCORE)
    )
