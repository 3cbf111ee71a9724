"""Seeker-vacancy scoring: candidates within the seeker's radius, hard vetoes, a score in [0, 1].

score = weight_skill * skill + weight_occupation * occupation + weight_distance * distance, where

- skill is the cosine of the seeker's and the vacancy's ROME item codes, each code weighted by its
  inverse document frequency over the vacancies (smooth idf: ln((1 + n) / (1 + df)) + 1);
- occupation is 1 when the vacancy's ROME sheet is one the seeker wants, ``mobility_credit`` when a ROME
  mobility link leads from one of them to it, 0 otherwise;
- distance is 1 - d / radius (1 next door, 0 at the edge of the radius).

Vetoes (the pair is dropped): farther than the radius, a contract type the seeker does not accept, a
working time the seeker does not want, a required driving licence the seeker lacks, more required
experience than the seeker has.

Candidates come from geographic blocks (planar cells) and a sparse product over item codes and ROME
sheets, so only pairs that share something are ever scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

from matching import columns as c
from matching.geo import haversine_km, planar_km

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
)
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


@dataclass(frozen=True)
class _Side:
    """One side (seekers or vacancies) as sparse rows over a shared vocabulary."""

    skills: sp.csr_matrix  # idf-weighted, l2-normalized item codes
    sheets: sp.csr_matrix  # binary ROME sheets
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]


def _binary_rows(lists: pl.Series, vocab: dict[str, int]) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    for codes in lists.to_list():
        cols = sorted({vocab[code] for code in codes or () if code in vocab})
        indices.extend(cols)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    return sp.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr)), shape=(len(lists), len(vocab)))


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def idf_weights(vacancy_skills: pl.Series, vocab: dict[str, int]) -> npt.NDArray[np.float64]:
    """Smooth inverse document frequency of every code over the vacancies."""
    binary = _binary_rows(vacancy_skills, vocab)
    n = binary.shape[0]
    df = np.asarray(binary.sum(axis=0)).ravel()
    return np.asarray(np.log((1 + n) / (1 + df)) + 1.0, dtype=np.float64)


def _sides(seekers: pl.DataFrame, vacancies: pl.DataFrame) -> tuple[_Side, _Side]:
    codes = sorted(
        set(seekers.get_column(c.ITEM_CODES).explode().drop_nulls().to_list())
        | set(vacancies.get_column(c.SKILL_CODES).explode().drop_nulls().to_list())
    )
    vocab = {code: i for i, code in enumerate(codes)}
    idf = sp.diags(idf_weights(vacancies.get_column(c.SKILL_CODES), vocab))
    sheets = sorted(
        set(seekers.get_column(c.ROME_CODES).explode().drop_nulls().to_list())
        | set(vacancies.get_column(c.ROME_CODE).to_list())
    )
    sheet_vocab = {code: i for i, code in enumerate(sheets)}
    sides = []
    for frame, skill_col, sheet_series in (
        (seekers, c.ITEM_CODES, seekers.get_column(c.ROME_CODES)),
        (vacancies, c.SKILL_CODES, vacancies.select(pl.concat_list(c.ROME_CODE)).to_series()),
    ):
        x, y = planar_km(frame.get_column(c.LATITUDE).to_numpy(), frame.get_column(c.LONGITUDE).to_numpy())
        sides.append(
            _Side(
                skills=_l2_rows(sp.csr_matrix(_binary_rows(frame.get_column(skill_col), vocab) @ idf)),
                sheets=_binary_rows(sheet_series, sheet_vocab),
                x=x,
                y=y,
            )
        )
    return sides[0], sides[1]


def _candidate_pairs(
    seekers: pl.DataFrame, s: _Side, v: _Side, *, block_km: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pairs (seeker row, vacancy row) in nearby cells sharing an item or a sheet, with skill and sheet overlap."""
    radius = seekers.get_column(c.RADIUS_KM).to_numpy()
    s_cell = np.floor(np.stack([s.x, s.y], axis=1) / block_km).astype(np.int64)
    v_cell = np.floor(np.stack([v.x, v.y], axis=1) / block_km).astype(np.int64)
    order = np.lexsort((s_cell[:, 1], s_cell[:, 0]))
    keys, starts = np.unique(s_cell[order], axis=0, return_index=True)
    ends = np.append(starts[1:], len(order))
    out_i, out_j, out_skill, out_sheet = [], [], [], []
    for key, start, end in zip(keys, starts, ends, strict=True):
        rows = order[start:end]
        reach = math.ceil((float(radius[rows].max()) + BLOCK_MARGIN_KM) / block_km)
        near = np.flatnonzero((np.abs(v_cell[:, 0] - key[0]) <= reach) & (np.abs(v_cell[:, 1] - key[1]) <= reach))
        if near.size == 0:
            continue
        # A vacancy has one sheet, so the sheet product is 0 or 1 and skill is in [0, 1]: adding twice the
        # sheet product keeps both readable from one sparse matrix (its pattern is the candidate set).
        total = (s.skills[rows] @ v.skills[near].T + 2.0 * (s.sheets[rows] @ v.sheets[near].T)).tocoo()
        same = total.data >= 2.0 - 1e-9
        out_i.append(rows[total.row])
        out_j.append(near[total.col])
        out_skill.append(total.data - 2.0 * same)
        out_sheet.append(same.astype(np.float64))
    if not out_i:
        empty_i = np.array([], dtype=np.int64)
        return empty_i, empty_i.copy(), np.array([], dtype=np.float64), np.array([], dtype=np.float64)
    return (
        np.concatenate(out_i),
        np.concatenate(out_j),
        np.concatenate(out_skill),
        np.concatenate(out_sheet),
    )


def score_matches(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    *,
    mobility: pl.DataFrame | None = None,
    weight_skill: float = 0.55,
    weight_occupation: float = 0.25,
    weight_distance: float = 0.20,
    mobility_credit: float = 0.5,
    top_k: int = 10,
    min_score: float = 0.0,
    block_km: float = 50.0,
) -> pl.DataFrame:
    """The top ``top_k`` vacancies per seeker, with score components and explanation columns.

    ``seekers`` needs the columns in ``SEEKER_INPUT``, ``vacancies`` those in ``VACANCY_INPUT``;
    ``mobility`` has ``rome_code`` and ``target_rome_code``. Nothing else is read: protected
    attributes cannot reach the score.
    """
    if abs(weight_skill + weight_occupation + weight_distance - 1.0) > 1e-9:
        raise ValueError("the three weights must add up to 1")
    seekers = seekers.select(SEEKER_INPUT)
    vacancies = vacancies.select(VACANCY_INPUT)
    if seekers.is_empty() or vacancies.is_empty():
        return pl.DataFrame(schema=MATCH_SCHEMA)
    s_side, v_side = _sides(seekers, vacancies)
    i, j, skill, same_sheet = _candidate_pairs(seekers, s_side, v_side, block_km=block_km)
    distance = haversine_km(
        seekers.get_column(c.LATITUDE).to_numpy()[i],
        seekers.get_column(c.LONGITUDE).to_numpy()[i],
        vacancies.get_column(c.LATITUDE).to_numpy()[j],
        vacancies.get_column(c.LONGITUDE).to_numpy()[j],
    )
    pairs = pl.DataFrame(
        {
            "_i": i,
            "_j": j,
            c.SKILL_SCORE: np.clip(skill, 0.0, 1.0),
            "_same_sheet": same_sheet > 0,
            c.DISTANCE_KM: distance,
        }
    )
    s_cols = seekers.with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
    v_cols = vacancies.with_row_index("_j").with_columns(pl.col("_j").cast(pl.Int64))
    joined = pairs.join(s_cols, on="_i").join(v_cols, on="_j", suffix="_v")
    kept = joined.filter(_allowed())
    scored = (
        _with_relation(kept, mobility)
        .with_columns(
            pl.when(pl.col(c.OCCUPATION_RELATION) == SAME_SHEET)
            .then(1.0)
            .when(pl.col(c.OCCUPATION_RELATION) == MOBILITY)
            .then(mobility_credit)
            .otherwise(0.0)
            .alias(c.OCCUPATION_SCORE),
            (1.0 - pl.col(c.DISTANCE_KM) / pl.col(c.RADIUS_KM)).clip(0.0, 1.0).alias(c.DISTANCE_SCORE),
        )
        .with_columns(
            (
                weight_skill * pl.col(c.SKILL_SCORE)
                + weight_occupation * pl.col(c.OCCUPATION_SCORE)
                + weight_distance * pl.col(c.DISTANCE_SCORE)
            )
            .clip(0.0, 1.0)
            .alias(c.SCORE)
        )
        .filter(pl.col(c.SCORE) >= min_score)
    )
    ranked = (
        scored.sort([c.SEEKER_ID, c.SCORE, c.DISTANCE_KM, c.VACANCY_ID], descending=[False, True, False, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over(c.SEEKER_ID).cast(pl.Int32).alias(c.RANK))
        .filter(pl.col(c.RANK) <= top_k)
    )
    return (
        ranked.with_columns(
            pl.col(c.SKILL_CODES).list.set_intersection(pl.col(c.ITEM_CODES)).list.sort().alias(c.MATCHED_SKILLS),
            pl.col(c.REQUIRED_SKILL_CODES)
            .list.set_difference(pl.col(c.ITEM_CODES))
            .list.sort()
            .alias(c.MISSING_REQUIRED_SKILLS),
        )
        .select(list(MATCH_SCHEMA))
        .cast(MATCH_SCHEMA)
    )


def _allowed() -> pl.Expr:
    """Hard vetoes; a pair passes only when every one of them holds."""
    seeker_contracts = pl.col(c.CONTRACT_TYPES)
    contract_ok = (seeker_contracts.list.len() == 0) | seeker_contracts.list.contains(pl.col(c.CONTRACT_TYPE))
    time_ok = (pl.col(c.WORKING_TIME) == c.ANY) | (pl.col(c.WORKING_TIME) == pl.col(f"{c.WORKING_TIME}_v"))
    licence_ok = ~pl.col(c.LICENCE_REQUIRED) | pl.col(c.DRIVING_LICENCE)
    experience_ok = pl.col(c.EXPERIENCE_REQUIRED_MONTHS) <= pl.col(c.EXPERIENCE_MONTHS)
    within = pl.col(c.DISTANCE_KM) <= pl.col(c.RADIUS_KM)
    return within & contract_ok & time_ok & licence_ok & experience_ok


def _with_relation(pairs: pl.DataFrame, mobility: pl.DataFrame | None) -> pl.DataFrame:
    """Add the occupation relation: same sheet, reached by a ROME mobility link, or other."""
    if mobility is None or mobility.is_empty() or pairs.is_empty():
        linked = pairs.with_columns(pl.lit(False).alias("_linked"))
    else:
        reachable = (
            pairs.select(c.SEEKER_ID, c.ROME_CODES)
            .unique(c.SEEKER_ID)
            .explode(c.ROME_CODES)
            .join(mobility.select(pl.col(c.ROME_CODE).alias(c.ROME_CODES), "target_rome_code"), on=c.ROME_CODES)
            .select(c.SEEKER_ID, pl.col("target_rome_code").alias(c.ROME_CODE))
            .unique()
            .with_columns(pl.lit(True).alias("_linked"))
        )
        linked = pairs.join(reachable, on=[c.SEEKER_ID, c.ROME_CODE], how="left").with_columns(
            pl.col("_linked").fill_null(False)
        )
    return linked.with_columns(
        pl.when(pl.col("_same_sheet"))
        .then(pl.lit(SAME_SHEET))
        .when(pl.col("_linked"))
        .then(pl.lit(MOBILITY))
        .otherwise(pl.lit(OTHER))
        .alias(c.OCCUPATION_RELATION)
    )
