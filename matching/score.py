"""Seeker-vacancy scoring: candidates within the seeker's radius, hard vetoes, a score in [0, 1].

score = weight_skill * skill + weight_occupation * occupation + weight_distance * distance, where

- skill is the weighted share of the vacancy's ROME item codes that the seeker has: each of the
  vacancy's codes weighs its inverse document frequency over the vacancies (smooth idf:
  ln((1 + n) / (1 + df)) + 1), times ``core_weight`` when it is a core item of the vacancy's ROME sheet
  and ``required_weight`` when the vacancy requires it (exigence E). A TF-IDF product of a binary seeker
  vector with the L1-normalized vacancy vector; adding a shared skill can only raise it, and skills the
  vacancy does not ask for neither help nor hurt;
- occupation is 1 when the vacancy's ROME sheet is one the seeker wants, ``mobility_credit`` when a ROME
  mobility link leads from one of them to it, 0 otherwise;
- distance is 1 - d / radius (1 next door, 0 at the edge of the radius).

Vetoes (the pair is dropped): farther than the radius, a contract type the seeker does not accept, a
working time the seeker does not want, a required driving licence the seeker lacks, more required
experience than the seeker has, a qualification more than one step above the seeker's (when both known).

Candidates come from geographic blocks (planar cells) and a sparse product over item codes and ROME
sheets, so only pairs that share something are ever scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from matching import columns as c
from matching.geo import haversine_km, planar_km, z_order

SEEKER_INPUT = (
    c.SEEKER_ID,
    c.LATITUDE,
    c.LONGITUDE,
    c.RADIUS_KM,
    c.ROME_CODES,
    c.ITEM_CODES,
    c.CONTRACT_TYPES,
    c.WORKING_TIME,
    c.DRIVING_LICENCE,
    c.EXPERIENCE_MONTHS,
    c.QUALIFICATION_CODE,
)
VACANCY_INPUT = (
    c.VACANCY_ID,
    c.LATITUDE,
    c.LONGITUDE,
    c.ROME_CODE,
    c.SKILL_CODES,
    c.REQUIRED_SKILL_CODES,
    c.CONTRACT_TYPE,
    c.WORKING_TIME,
    c.LICENCE_REQUIRED,
    c.EXPERIENCE_REQUIRED_MONTHS,
    c.QUALIFICATION_CODE,
)
# France Travail qualification codes on one ladder: 1 manoeuvre; 2 ouvrier specialise and 5 employe non
# qualifie; 3 ouvrier qualifie P1/P2 and 6 employe qualifie; 4 ouvrier qualifie P3/P4/OHQ; 7 technicien;
# 8 agent de maitrise; 9 cadre. Unknown on either side is 0 and never vetoes.
QUALIFICATION_LADDER = {"1": 1, "2": 2, "5": 2, "3": 3, "6": 3, "4": 4, "7": 5, "8": 6, "9": 7}
QUALIFICATION_TOLERANCE = 1  # a seeker one step below the vacancy's level is still proposed
MATCH_SCHEMA = pl.Schema(
    {
        c.SEEKER_ID: pl.String(),
        c.VACANCY_ID: pl.String(),
        c.RANK: pl.Int32(),
        c.SCORE: pl.Float64(),
        c.SKILL_SCORE: pl.Float64(),
        c.OCCUPATION_SCORE: pl.Float64(),
        c.DISTANCE_SCORE: pl.Float64(),
        c.DISTANCE_KM: pl.Float64(),
        c.OCCUPATION_RELATION: pl.String(),
        c.MATCHED_SKILLS: pl.List(pl.String()),
        c.MISSING_REQUIRED_SKILLS: pl.List(pl.String()),
    }
)
SAME_SHEET, MOBILITY, OTHER = "same_sheet", "mobility", "other"
BLOCK_MARGIN_KM = 2.0
BLOCK_KM = 50.0  # planar cell side grouping seekers into blocks
CHUNK_ROWS = 1024  # seekers per sparse product: bounds memory in dense cells


@dataclass(frozen=True)
class _Side:
    """One side (seekers or vacancies) as sparse rows over shared vocabularies, plus veto arrays."""

    skills: sp.csr_matrix  # seekers: binary item codes; vacancies: weighted item codes, rows summing to 1
    sheets: sp.csr_matrix  # binary ROME sheets (seekers: wanted sheets; vacancies: its sheet)
    reach: sp.csr_matrix  # seekers: sheets reached by a ROME mobility link; vacancies: unused (empty)
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    contracts: npt.NDArray[np.int64]  # seekers: bit mask of accepted contracts (0 = any); vacancies: one bit
    working_time: npt.NDArray[np.int8]  # 0 any, 1 full time, 2 part time
    licence: npt.NDArray[np.bool_]  # seekers: has one; vacancies: requires one
    experience: npt.NDArray[np.int64]  # seekers: months they have; vacancies: months required
    qualification: npt.NDArray[np.int8]  # step on QUALIFICATION_LADDER, 0 when unknown


_TIME_CODES = {c.ANY: 0, c.FULL_TIME: 1, c.PART_TIME: 2}


def _vocab(*codes: pl.Series) -> pl.DataFrame:
    """Sorted distinct codes with their column index (code points order, as Python's ``sorted``)."""
    values = pl.concat([s.cast(pl.String) for s in codes]).drop_nulls().unique().sort()
    return pl.DataFrame({"_code": values, "_col": pl.int_range(values.len(), eager=True, dtype=pl.Int64)})


def _pairs(lists: pl.Series, vocab: pl.DataFrame) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(rows, cols) of every distinct known code of every row, sorted by row then col."""
    width = max(vocab.height, 1)
    exploded = pl.DataFrame({"_code": lists.cast(pl.List(pl.String))}).with_row_index("_row").explode("_code")
    key = (
        exploded.select(
            pl.col("_row").cast(pl.Int64) * width
            + pl.col("_code").replace_strict(vocab.get_column("_code"), vocab.get_column("_col"), default=None)
        )
        .to_series()
        .drop_nulls()
        .sort()
        .to_numpy()
    )
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key.astype(np.int64)
    return key // width, key % width


def _binary_rows(lists: pl.Series, vocab: pl.DataFrame) -> sp.csr_matrix:
    rows, cols = _pairs(lists, vocab)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(lists)))]).astype(np.int64)
    data = np.ones(len(cols), dtype=np.float64)
    return sp.csr_matrix((data, cols, indptr), shape=(len(lists), vocab.height))


def _weighted_vacancy_rows(
    vacancies: pl.DataFrame,
    vocab: pl.DataFrame,
    idf: npt.NDArray[np.float64],
    core_items: pl.DataFrame | None,
    *,
    core_weight: float,
    required_weight: float,
) -> sp.csr_matrix:
    """Vacancy rows over the item vocabulary: idf x core and required boosts, each row summing to 1."""
    items = (
        vacancies.select(c.ROME_CODE, c.SKILL_CODES, pl.col(c.REQUIRED_SKILL_CODES).cast(pl.List(pl.String)))
        .with_row_index("_row")
        .explode(c.SKILL_CODES)
        .drop_nulls(c.SKILL_CODES)
        .unique(["_row", c.SKILL_CODES])
        .with_columns(pl.col(c.SKILL_CODES).is_in(pl.col(c.REQUIRED_SKILL_CODES)).alias("_required"))
    )
    if core_items is not None and not core_items.is_empty():
        core = core_items.select(c.ROME_CODE, pl.col("item_code").alias(c.SKILL_CODES)).unique()
        items = items.join(core.with_columns(pl.lit(True).alias("_core")), on=[c.ROME_CODE, c.SKILL_CODES], how="left")
    else:
        items = items.with_columns(pl.lit(None, pl.Boolean).alias("_core"))
    items = items.join(vocab, left_on=c.SKILL_CODES, right_on="_code", how="inner")
    rows = items.get_column("_row").to_numpy().astype(np.int64)
    cols = items.get_column("_col").to_numpy().astype(np.int64)
    boost = np.where(items.get_column("_core").fill_null(False).to_numpy(), core_weight, 1.0) * np.where(
        items.get_column("_required").to_numpy(), required_weight, 1.0
    )
    weights = sp.csr_matrix((idf[cols] * boost, (rows, cols)), shape=(vacancies.height, vocab.height))
    totals = np.asarray(weights.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / totals) @ weights)


def idf_weights(vacancy_skills: pl.Series, vocab: pl.DataFrame) -> npt.NDArray[np.float64]:
    """Smooth inverse document frequency of every code of ``vocab`` over the vacancies."""
    _, cols = _pairs(vacancy_skills, vocab)
    df = np.bincount(cols, minlength=vocab.height).astype(np.float64)
    n = len(vacancy_skills)
    return np.asarray(np.log((1 + n) / (1 + df)) + 1.0, dtype=np.float64)


def _contract_bits(codes: pl.Series, vocab: pl.DataFrame) -> npt.NDArray[np.int64]:
    rows, cols = _pairs(codes, vocab)
    out = np.zeros(len(codes), dtype=np.int64)
    np.bitwise_or.at(out, rows, np.left_shift(np.int64(1), cols))
    return out


def _sides(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    mobility: pl.DataFrame | None,
    core_items: pl.DataFrame | None,
    idf_over: pl.Series,
    *,
    core_weight: float,
    required_weight: float,
) -> tuple[_Side, _Side]:
    vocab = _vocab(seekers.get_column(c.ITEM_CODES).explode(), vacancies.get_column(c.SKILL_CODES).explode())
    idf = idf_weights(idf_over, vocab)
    seeker_sheets = seekers.get_column(c.ROME_CODES)
    vacancy_sheets = vacancies.select(pl.concat_list(c.ROME_CODE)).to_series()
    sheet_vocab = _vocab(seeker_sheets.explode(), vacancies.get_column(c.ROME_CODE))
    if mobility is not None and not mobility.is_empty():
        reached = (
            seekers.select(pl.col(c.ROME_CODES))
            .with_row_index("_row")
            .explode(c.ROME_CODES)
            .join(mobility.select(pl.col(c.ROME_CODE).alias(c.ROME_CODES), "target_rome_code"), on=c.ROME_CODES)
            .group_by("_row")
            .agg(pl.col("target_rome_code").unique())
        )
        targets = (
            pl.DataFrame({"_row": pl.arange(0, seekers.height, eager=True).cast(pl.UInt32)})
            .join(reached, on="_row", how="left")
            .sort("_row")
            .get_column("target_rome_code")
            .fill_null(pl.lit([], dtype=pl.List(pl.String)))
        )
    else:
        targets = pl.Series([], dtype=pl.List(pl.String)).extend_constant(None, seekers.height)
    contract_vocab = _vocab(seekers.get_column(c.CONTRACT_TYPES).explode(), vacancies.get_column(c.CONTRACT_TYPE))
    if contract_vocab.height > 62:
        raise ValueError("more than 62 distinct contract types")

    def side(
        frame: pl.DataFrame,
        skills: sp.csr_matrix,
        sheets: pl.Series,
        reach: sp.csr_matrix,
        contracts: pl.Series,
        licence_col: str,
        experience_col: str,
    ) -> _Side:
        lat = frame.get_column(c.LATITUDE).to_numpy().astype(np.float64)
        lon = frame.get_column(c.LONGITUDE).to_numpy().astype(np.float64)
        x, y = planar_km(lat, lon)
        return _Side(
            skills=skills,
            sheets=_binary_rows(sheets, sheet_vocab),
            reach=reach,
            lat=lat,
            lon=lon,
            x=x,
            y=y,
            contracts=_contract_bits(contracts, contract_vocab),
            working_time=frame.get_column(c.WORKING_TIME)
            .replace_strict(_TIME_CODES, default=0, return_dtype=pl.Int8)
            .to_numpy()
            .astype(np.int8),
            licence=frame.get_column(licence_col).fill_null(False).to_numpy().astype(np.bool_),
            experience=frame.get_column(experience_col).fill_null(0).to_numpy().astype(np.int64),
            qualification=frame.get_column(c.QUALIFICATION_CODE)
            .cast(pl.String)
            .replace_strict(QUALIFICATION_LADDER, default=0, return_dtype=pl.Int8)
            .fill_null(0)
            .to_numpy()
            .astype(np.int8),
        )

    no_reach = sp.csr_matrix((vacancies.height, sheet_vocab.height), dtype=np.float64)
    return (
        side(
            seekers,
            _binary_rows(seekers.get_column(c.ITEM_CODES), vocab),
            seeker_sheets,
            _binary_rows(targets, sheet_vocab),
            seekers.get_column(c.CONTRACT_TYPES),
            c.DRIVING_LICENCE,
            c.EXPERIENCE_MONTHS,
        ),
        side(
            vacancies,
            _weighted_vacancy_rows(
                vacancies, vocab, idf, core_items, core_weight=core_weight, required_weight=required_weight
            ),
            vacancy_sheets,
            no_reach,
            vacancies.select(pl.concat_list(c.CONTRACT_TYPE)).to_series(),
            c.LICENCE_REQUIRED,
            c.EXPERIENCE_REQUIRED_MONTHS,
        ),
    )


@dataclass(frozen=True)
class _Weights:
    skill: float
    occupation: float
    distance: float
    mobility_credit: float
    min_score: float
    top_k: int


@dataclass(frozen=True)
class ScoreStats:
    """How much work one call did: the figures the benchmark reports."""

    seekers: int = 0
    vacancies: int = 0
    candidate_pairs: int = 0  # pairs within a block's box that share an item or a sheet (the sparse products)
    bounded_pairs: int = 0  # left after the score upper bound and the cheap vetoes: the haversine is computed
    kept_pairs: int = 0  # within the radius, no veto, score >= min_score
    matches: int = 0  # after top-k per seeker

    def __add__(self, other: ScoreStats) -> ScoreStats:
        return ScoreStats(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


_Block = dict[str, npt.NDArray[Any]]


def _score_block(
    rows: npt.NDArray[np.int64],
    near: npt.NDArray[np.int64],
    product: tuple[sp.csr_matrix, sp.csr_matrix],
    s: _Side,
    v: _Side,
    radius: npt.NDArray[np.float64],
    w: _Weights,
) -> tuple[_Block, tuple[int, int, int]]:
    """Score every candidate pair of one block of seekers and keep each seeker's best ``top_k``."""
    # One sparse product carries three things: skill coverage in [0, 1], plus 2 when the vacancy's sheet
    # is one the seeker wants, plus 4 when a mobility link reaches it. Its pattern is the candidate set.
    total = (product[0][rows] @ product[1][near].T).tocoo()
    value = total.data
    candidates = len(value)
    # Exact pruning before anything else: the distance term is at most weight_distance, and floating-point
    # addition and multiplication are monotone, so a pair whose score with a perfect distance stays below
    # min_score can never reach it.
    # A first, looser cut on the raw value alone (one pass over every candidate): a pair with no sheet
    # relation has partial = weight_skill * skill.
    if w.skill > 0 and w.min_score > w.distance:
        loose = np.flatnonzero((value >= 2.0 - 1e-9) | (value >= (w.min_score - w.distance) / w.skill - 1e-6))
        value, pair_row, pair_col = value[loose], total.row[loose], total.col[loose]
    else:
        pair_row, pair_col = total.row, total.col
    linked = value >= 4.0 - 1e-9
    value = value - 4.0 * linked
    same = value >= 2.0 - 1e-9
    skill = np.clip(value - 2.0 * same, 0.0, 1.0)
    occupation = np.where(same, 1.0, np.where(linked, w.mobility_credit, 0.0))
    partial = w.skill * skill + w.occupation * occupation
    keep = np.flatnonzero(partial + w.distance >= w.min_score)
    i, j = rows[pair_row[keep]], near[pair_col[keep]]
    skill, occupation, partial, same, linked = (a[keep] for a in (skill, occupation, partial, same, linked))
    # The vetoes need no distance; planar coordinates never overstate a distance (matching.geo), so a
    # pair beyond radius + margin in the plane is beyond the radius on the sphere: the haversine is spared.
    dx, dy = s.x[i] - v.x[j], s.y[i] - v.y[j]
    reach = radius[i] + BLOCK_MARGIN_KM
    keep = dx * dx + dy * dy <= reach * reach
    keep &= (s.contracts[i] == 0) | ((s.contracts[i] & v.contracts[j]) != 0)
    keep &= (s.working_time[i] == 0) | (s.working_time[i] == v.working_time[j])
    keep &= ~v.licence[j] | s.licence[i]
    keep &= v.experience[j] <= s.experience[i]
    keep &= (s.qualification[i] == 0) | (s.qualification[i] + QUALIFICATION_TOLERANCE >= v.qualification[j])
    i, j, skill, occupation, partial, same, linked = (a[keep] for a in (i, j, skill, occupation, partial, same, linked))
    bounded = len(i)
    distance = haversine_km(s.lat[i], s.lon[i], v.lat[j], v.lon[j])
    distance_score = np.clip(1.0 - distance / radius[i], 0.0, 1.0)
    score = np.clip(partial + w.distance * distance_score, 0.0, 1.0)
    keep = (distance <= radius[i]) & (score >= w.min_score)
    cols = {
        "i": i,
        "j": j,
        "skill": skill,
        "occupation": occupation,
        "distance_score": distance_score,
        "distance": distance,
        "score": score,
        "same": same,
        "linked": linked,
    }
    cols = {k: a[keep] for k, a in cols.items()}
    kept = len(cols["i"])
    # best first: score, then nearer, then vacancy order (vacancies are sorted by id, so ties break by id)
    order = np.lexsort((cols["j"], cols["distance"], -cols["score"], cols["i"]))
    cols = {k: a[order] for k, a in cols.items()}
    starts = np.flatnonzero(np.r_[True, cols["i"][1:] != cols["i"][:-1]]) if len(order) else np.array([], int)
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)])) if len(order) else np.array([], int)
    rank = np.arange(len(order)) - group_start + 1
    top = rank <= w.top_k
    return {**{k: a[top] for k, a in cols.items()}, "rank": rank[top]}, (candidates, bounded, kept)


def _blocks(
    s: _Side, v: _Side, radius: npt.NDArray[np.float64], block_km: float
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """(seeker rows, candidate vacancy rows) per block: up to CHUNK_ROWS seekers of one radius and one cell.

    A block's vacancies are those inside the box of its seekers widened by their largest radius plus a
    margin, so that no vacancy within any of their radii is left out (planar coordinates never overstate
    a distance). Grouping seekers by radius keeps one long-radius seeker from widening the box of a whole
    block, and ordering a crowded cell along a Z-curve of 2 km squares keeps each block's box small.
    """
    cell_x = np.floor(s.x / block_km).astype(np.int64)
    cell_y = np.floor(s.y / block_km).astype(np.int64)
    fine_km = 2.0
    fine = z_order(
        np.floor((s.x - cell_x * block_km) / fine_km).astype(np.int64),
        np.floor((s.y - cell_y * block_km) / fine_km).astype(np.int64),
    )
    order = np.lexsort((fine, cell_y, cell_x, radius))
    by_x = np.argsort(v.x, kind="stable")
    vx = v.x[by_x]
    key = np.stack([radius[order], cell_x[order], cell_y[order]], axis=1)
    boundaries = np.flatnonzero(np.any(key[1:] != key[:-1], axis=1)) + 1
    for group in np.split(order, boundaries):
        for chunk in range(0, len(group), CHUNK_ROWS):
            rows = group[chunk : chunk + CHUNK_ROWS]
            reach = float(radius[rows].max()) + BLOCK_MARGIN_KM
            lo = np.searchsorted(vx, s.x[rows].min() - reach, side="left")
            hi = np.searchsorted(vx, s.x[rows].max() + reach, side="right")
            band = by_x[lo:hi]
            y = v.y[band]
            near = np.sort(band[(y >= s.y[rows].min() - reach) & (y <= s.y[rows].max() + reach)])
            if near.size:
                yield np.sort(rows), near


def _with_qualification(frame: pl.DataFrame) -> pl.DataFrame:
    """The qualification code is optional on both sides: absent means unknown."""
    if c.QUALIFICATION_CODE in frame.columns:
        return frame
    return frame.with_columns(pl.lit(None, pl.String).alias(c.QUALIFICATION_CODE))


def score_matches(seekers: pl.DataFrame, vacancies: pl.DataFrame, **options: Any) -> pl.DataFrame:
    """The top ``top_k`` vacancies per seeker, with score components and explanation columns.

    ``seekers`` needs the columns in ``SEEKER_INPUT``, ``vacancies`` those in ``VACANCY_INPUT``;
    ``mobility`` has ``rome_code`` and ``target_rome_code``; ``core_items`` has ``rome_code`` and
    ``item_code`` for the core items of each sheet. Nothing else is read: protected
    attributes cannot reach the score.

    ``options`` are the keyword-only tuning values of :func:`score_matches_with_stats` (weights, boosts,
    ``mobility``, ``core_items``, ``top_k``, ``min_score``, ``block_km``, ``idf_over``); results do not
    depend on ``block_km``, which only groups the work.
    """
    return score_matches_with_stats(seekers, vacancies, **options)[0]


def score_matches_with_stats(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    *,
    mobility: pl.DataFrame | None = None,
    weight_skill: float = 0.55,
    weight_occupation: float = 0.25,
    weight_distance: float = 0.20,
    mobility_credit: float = 0.5,
    core_items: pl.DataFrame | None = None,
    core_weight: float = 2.0,
    required_weight: float = 2.0,
    top_k: int = 10,
    min_score: float = 0.0,
    block_km: float = BLOCK_KM,
    idf_over: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, ScoreStats]:
    """:func:`score_matches` plus the work it did (:class:`ScoreStats`).

    ``idf_over``: the vacancies (a ``skill_codes`` column is enough) over which the skill idf is counted;
    by default ``vacancies`` itself. A shard passes the whole night's vacancies here, so that its scores
    equal the unsharded ones.
    """
    if abs(weight_skill + weight_occupation + weight_distance - 1.0) > 1e-9:
        raise ValueError("the three weights must add up to 1")
    seekers = _with_qualification(seekers).select(SEEKER_INPUT).sort(c.SEEKER_ID)
    vacancies = _with_qualification(vacancies).select(VACANCY_INPUT).sort(c.VACANCY_ID)
    stats = ScoreStats(seekers=seekers.height, vacancies=vacancies.height)
    if seekers.is_empty() or vacancies.is_empty():
        return pl.DataFrame(schema=MATCH_SCHEMA), stats
    idf_skills = (idf_over if idf_over is not None else vacancies).get_column(c.SKILL_CODES)
    s, v = _sides(
        seekers, vacancies, mobility, core_items, idf_skills, core_weight=core_weight, required_weight=required_weight
    )
    w = _Weights(weight_skill, weight_occupation, weight_distance, mobility_credit, min_score, top_k)
    radius = seekers.get_column(c.RADIUS_KM).to_numpy().astype(np.float64)
    # skills | 2 x wanted sheets | 4 x sheets reached by mobility, against skills | sheet | sheet: one
    # product whose sums accumulate in the same order as the three separate products would.
    product = (
        sp.csr_matrix(sp.hstack([s.skills, 2.0 * s.sheets, 4.0 * s.reach], format="csr")),
        sp.csr_matrix(sp.hstack([v.skills, v.sheets, v.sheets], format="csr")),
    )

    done = [_score_block(rows, near, product, s, v, radius, w) for rows, near in _blocks(s, v, radius, block_km)]
    parts = [part for part, _ in done]
    counts = np.array([n for _, n in done], dtype=np.int64).reshape(-1, 3).sum(axis=0)
    if not parts or not sum(len(p["i"]) for p in parts):
        return pl.DataFrame(schema=MATCH_SCHEMA), replace(
            stats, candidate_pairs=int(counts[0]), bounded_pairs=int(counts[1]), kept_pairs=int(counts[2])
        )
    found = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    relation = np.where(found["same"], SAME_SHEET, np.where(found["linked"], MOBILITY, OTHER))
    pairs = pl.DataFrame(
        {
            "_i": found["i"],
            "_j": found["j"],
            c.RANK: found["rank"],
            c.SCORE: found["score"],
            c.SKILL_SCORE: found["skill"],
            c.OCCUPATION_SCORE: found["occupation"],
            c.DISTANCE_SCORE: found["distance_score"],
            c.DISTANCE_KM: found["distance"],
            c.OCCUPATION_RELATION: relation,
        }
    )
    s_cols = seekers.select(c.SEEKER_ID, c.ITEM_CODES).with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    v_cols = (
        vacancies.select(c.VACANCY_ID, c.SKILL_CODES, c.REQUIRED_SKILL_CODES)
        .with_row_index("_j")
        .with_columns(pl.col("_j").cast(pl.Int64))
    )
    out = (
        pairs.join(s_cols, on="_i")
        .join(v_cols, on="_j")
        .with_columns(
            pl.col(c.SKILL_CODES)
            .list.set_intersection(pl.col(c.ITEM_CODES))
            .list.eval(pl.element().sort())
            .alias(c.MATCHED_SKILLS),
            pl.col(c.REQUIRED_SKILL_CODES)
            .list.set_difference(pl.col(c.ITEM_CODES))
            .list.eval(pl.element().sort())
            .alias(c.MISSING_REQUIRED_SKILLS),
        )
        .sort(c.SEEKER_ID, c.RANK)
        .select(list(MATCH_SCHEMA))
        .cast(MATCH_SCHEMA)
    )
    return out, replace(
        stats,
        candidate_pairs=int(counts[0]),
        bounded_pairs=int(counts[1]),
        kept_pairs=int(counts[2]),
        matches=out.height,
    )
