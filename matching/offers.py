"""Tonight's offers: each routed seeker's best match not offered before, under the vacancy caps.

A vacancy's short list is bounded by ``shortlist_per_position`` times its positions, counting what was
offered on earlier nights. Seekers propose their best remaining match; a vacancy keeps the best-scored
proposals up to its remaining room; rejected seekers propose their next match. Rounds repeat until
nothing changes (a deferred-acceptance assignment, deterministic for a given input).
"""

from __future__ import annotations

import numpy as np
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

    The rounds run on integer positions: each round sorts only the proposals and what the vacancies they reach
    already hold, so a night of millions of matches takes seconds and little more memory than its keys.
    """
    routed = routing.filter(pl.col(c.CHANNEL).is_in([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR]))
    pairs = [c.SEEKER_ID, c.VACANCY_ID]
    # each seeker's matches, best first (ties: smaller vacancy id): row i is the seeker's (i - start)-th choice
    pool = (
        matches.select(*pairs, c.SCORE)
        .join(routed.select(c.SEEKER_ID), on=c.SEEKER_ID, how="semi")
        .join(already_offered.select(pairs), on=pairs, how="anti")
        .sort([c.SEEKER_ID, c.SCORE, c.VACANCY_ID], descending=[False, True, False])
        .with_columns(
            pl.col(c.SEEKER_ID).rank("dense").cast(pl.Int64).sub(1).alias("_seeker"),  # in id order: the tie-break
            pl.col(c.VACANCY_ID).rank("dense").cast(pl.Int64).sub(1).alias("_vacancy"),
        )
    )
    room = (
        pool.select(c.VACANCY_ID, "_vacancy")
        .unique(c.VACANCY_ID)
        .join(vacancies.select(c.VACANCY_ID, c.POSITIONS), on=c.VACANCY_ID, how="left")
        .join(vacancy_load.select(c.VACANCY_ID, OFFERED), on=c.VACANCY_ID, how="left")
        .select(
            "_vacancy",
            (pl.col(c.POSITIONS).fill_null(0) * shortlist_per_position - pl.col(OFFERED).fill_null(0))
            .clip(0, None)
            .alias("_room"),
        )
        .sort("_vacancy")
    )
    kept = _deferred_acceptance(
        pool["_seeker"].to_numpy(),
        pool["_vacancy"].to_numpy(),
        pool[c.SCORE].to_numpy(),
        room["_room"].to_numpy(),
        offers_per_seeker,
    )
    return (
        matches.join(pool.select(pairs)[kept], on=pairs, how="semi")
        .join(routed, on=c.SEEKER_ID, how="inner")
        .sort([c.SEEKER_ID, c.SCORE, c.VACANCY_ID], descending=[False, True, False])
    )


def _deferred_acceptance(
    seeker: np.ndarray, vacancy: np.ndarray, score: np.ndarray, room: np.ndarray, per_seeker: int
) -> np.ndarray:
    """The rows kept when seekers propose in row order (rows sorted by seeker, best choice first) and each
    vacancy holds its best-scored proposals up to ``room`` (ties: smaller seeker). Returns row positions."""
    rows = seeker.size
    if rows == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, seeker[1:] != seeker[:-1]])
    choices = np.diff(np.r_[starts, rows])
    proposed = np.zeros(starts.size, dtype=np.int64)  # choices each seeker has proposed to so far
    have = np.zeros(starts.size, dtype=np.int64)  # proposals each seeker has held now
    held = np.empty(0, dtype=np.int64)
    active = np.arange(starts.size)
    while True:
        want = np.minimum(per_seeker - have[active], choices[active] - proposed[active])
        active, want = active[want > 0], want[want > 0]
        if active.size == 0:
            return np.sort(held)
        # each active seeker's next ``want`` choices
        first = np.repeat(starts[active] + proposed[active], want)
        proposals = first + np.arange(want.sum()) - np.repeat(np.cumsum(want) - want, want)
        proposed[active] += want
        reached = np.zeros(room.size, dtype=bool)
        reached[vacancy[proposals]] = True
        contested = reached[vacancy[held]]
        contenders = np.concatenate([held[contested], proposals])
        contenders = contenders[np.lexsort((seeker[contenders], -score[contenders], vacancy[contenders]))]
        by_vacancy = vacancy[contenders]
        index = np.arange(contenders.size)
        group_start = np.maximum.accumulate(np.where(np.r_[True, by_vacancy[1:] != by_vacancy[:-1]], index, 0))
        keep = index - group_start < room[by_vacancy]
        have += np.bincount(seeker[contenders[keep]], minlength=starts.size)
        have -= np.bincount(seeker[held[contested]], minlength=starts.size)
        held = np.concatenate([held[~contested], contenders[keep]])
        # who proposes next round: this round's proposers and the seekers just displaced
        active = np.union1d(active, seeker[contenders[~keep]])


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
