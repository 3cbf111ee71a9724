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


_TIME_CODES = {c.ANY: 0, c.FULL_TIME: 1, c.PART_TIME: 2}


def _binary_rows(lists: pl.Series, vocab: dict[str, int]) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    for codes in lists.to_list():
        cols = sorted({vocab[code] for code in codes or () if code in vocab})
        indices.extend(cols)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    return sp.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr)), shape=(len(lists), len(vocab)))


def _weighted_vacancy_rows(
    vacancies: pl.DataFrame,
    vocab: dict[str, int],
    idf: npt.NDArray[np.float64],
    core_items: pl.DataFrame | None,
    *,
    core_weight: float,
    required_weight: float,
) -> sp.csr_matrix:
    """Vacancy rows over the item vocabulary: idf x core and required boosts, each row summing to 1."""
    items = (
        vacancies.select(c.ROME_CODE, c.SKILL_CODES, c.REQUIRED_SKILL_CODES)
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
    items = items.filter(pl.col(c.SKILL_CODES).is_in(list(vocab)))
    rows = items.get_column("_row").to_numpy().astype(np.int64)
    cols = np.array([vocab[code] for code in items.get_column(c.SKILL_CODES).to_list()], dtype=np.int64)
    boost = np.where(items.get_column("_core").fill_null(False).to_numpy(), core_weight, 1.0) * np.where(
        items.get_column("_required").to_numpy(), required_weight, 1.0
    )
    weights = sp.csr_matrix((idf[cols] * boost, (rows, cols)), shape=(vacancies.height, len(vocab)))
    totals = np.asarray(weights.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / totals) @ weights)


def idf_weights(vacancy_skills: pl.Series, vocab: dict[str, int]) -> npt.NDArray[np.float64]:
    """Smooth inverse document frequency of every code over the vacancies."""
    binary = _binary_rows(vacancy_skills, vocab)
    n = binary.shape[0]
    df = np.asarray(binary.sum(axis=0)).ravel()
    return np.asarray(np.log((1 + n) / (1 + df)) + 1.0, dtype=np.float64)


def _contract_bits(codes: pl.Series, vocab: dict[str, int]) -> npt.NDArray[np.int64]:
    return np.array(
        [sum(1 << vocab[x] for x in set(row or ()) if x in vocab) for row in codes.to_list()], dtype=np.int64
    )


def _sides(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    mobility: pl.DataFrame | None,
    core_items: pl.DataFrame | None,
    *,
    core_weight: float,
    required_weight: float,
) -> tuple[_Side, _Side]:
    codes = sorted(
        set(seekers.get_column(c.ITEM_CODES).explode().drop_nulls().to_list())
        | set(vacancies.get_column(c.SKILL_CODES).explode().drop_nulls().to_list())
    )
    vocab = {code: i for i, code in enumerate(codes)}
    idf = idf_weights(vacancies.get_column(c.SKILL_CODES), vocab)
    seeker_sheets = seekers.get_column(c.ROME_CODES)
    vacancy_sheets = vacancies.select(pl.concat_list(c.ROME_CODE)).to_series()
    sheet_vocab = {
        code: i
        for i, code in enumerate(
            sorted(
                set(seeker_sheets.explode().drop_nulls().to_list()) | set(vacancies.get_column(c.ROME_CODE).to_list())
            )
        )
    }
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
        targets = pl.Series([[] for _ in range(seekers.height)], dtype=pl.List(pl.String))
    all_contracts = sorted(
        set(seekers.get_column(c.CONTRACT_TYPES).explode().drop_nulls().to_list())
        | set(vacancies.get_column(c.CONTRACT_TYPE).to_list())
    )
    contract_vocab = {code: i for i, code in enumerate(all_contracts)}
    if len(contract_vocab) > 62:
        raise ValueError("more than 62 distinct contract types")

    def side(
        frame: pl.DataFrame,
        skills: sp.csr_matrix,
        sheets: pl.Series,
        reach: pl.Series,
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
            reach=_binary_rows(reach, sheet_vocab),
            lat=lat,
            lon=lon,
            x=x,
            y=y,
            contracts=_contract_bits(contracts, contract_vocab),
            working_time=frame.get_column(c.WORKING_TIME)
            .replace_strict(_TIME_CODES, default=0)
            .to_numpy()
            .astype(np.int8),
            licence=frame.get_column(licence_col).fill_null(False).to_numpy().astype(np.bool_),
            experience=frame.get_column(experience_col).fill_null(0).to_numpy().astype(np.int64),
        )

    no_reach = pl.Series([[] for _ in range(vacancies.height)], dtype=pl.List(pl.String))
    return (
        side(
            seekers,
            _binary_rows(seekers.get_column(c.ITEM_CODES), vocab),
            seeker_sheets,
            targets,
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


def _score_block(
    rows: npt.NDArray[np.int64],
    near: npt.NDArray[np.int64],
    s: _Side,
    v: _Side,
    radius: npt.NDArray[np.float64],
    w: _Weights,
) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
    """Score every candidate pair of one block of seekers and keep each seeker's best ``top_k``."""
    # One sparse matrix carries three things: skill cosine in [0, 1], plus 2 when the vacancy's sheet is
    # one the seeker wants, plus 4 when a mobility link reaches it. Its pattern is the candidate set.
    v_sheets_t = v.sheets[near].T
    total = (
        s.skills[rows] @ v.skills[near].T + 2.0 * (s.sheets[rows] @ v_sheets_t) + 4.0 * (s.reach[rows] @ v_sheets_t)
    ).tocoo()
    i, j, value = rows[total.row], near[total.col], total.data
    linked = value >= 4.0 - 1e-9
    value = value - 4.0 * linked
    same = value >= 2.0 - 1e-9
    skill = np.clip(value - 2.0 * same, 0.0, 1.0)
    distance = haversine_km(s.lat[i], s.lon[i], v.lat[j], v.lon[j])
    keep = (
        (distance <= radius[i])
        & ((s.contracts[i] == 0) | ((s.contracts[i] & v.contracts[j]) != 0))
        & ((s.working_time[i] == 0) | (s.working_time[i] == v.working_time[j]))
        & (~v.licence[j] | s.licence[i])
        & (v.experience[j] <= s.experience[i])
    )
    occupation = np.where(same, 1.0, np.where(linked, w.mobility_credit, 0.0))
    distance_score = np.clip(1.0 - distance / radius[i], 0.0, 1.0)
    score = np.clip(w.skill * skill + w.occupation * occupation + w.distance * distance_score, 0.0, 1.0)
    keep &= score >= w.min_score
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
    # best first: score, then nearer, then vacancy order (vacancies are sorted by id, so ties break by id)
    order = np.lexsort((cols["j"], cols["distance"], -cols["score"], cols["i"]))
    cols = {k: a[order] for k, a in cols.items()}
    starts = np.flatnonzero(np.r_[True, cols["i"][1:] != cols["i"][:-1]]) if len(order) else np.array([], int)
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)])) if len(order) else np.array([], int)
    rank = np.arange(len(order)) - group_start + 1
    top = rank <= w.top_k
    return {**{k: a[top] for k, a in cols.items()}, "rank": rank[top]}


def score_matches(
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
    block_km: float = 50.0,
) -> pl.DataFrame:
    """The top ``top_k`` vacancies per seeker, with score components and explanation columns.

    ``seekers`` needs the columns in ``SEEKER_INPUT``, ``vacancies`` those in ``VACANCY_INPUT``;
    ``mobility`` has ``rome_code`` and ``target_rome_code``; ``core_items`` has ``rome_code`` and
    ``item_code`` for the core items of each sheet. Nothing else is read: protected
    attributes cannot reach the score.
    """
    if abs(weight_skill + weight_occupation + weight_distance - 1.0) > 1e-9:
        raise ValueError("the three weights must add up to 1")
    seekers = seekers.select(SEEKER_INPUT).sort(c.SEEKER_ID)
    vacancies = vacancies.select(VACANCY_INPUT).sort(c.VACANCY_ID)
    if seekers.is_empty() or vacancies.is_empty():
        return pl.DataFrame(schema=MATCH_SCHEMA)
    s, v = _sides(seekers, vacancies, mobility, core_items, core_weight=core_weight, required_weight=required_weight)
    w = _Weights(weight_skill, weight_occupation, weight_distance, mobility_credit, min_score, top_k)
    radius = seekers.get_column(c.RADIUS_KM).to_numpy().astype(np.float64)
    s_cell = np.floor(np.stack([s.x, s.y], axis=1) / block_km).astype(np.int64)
    v_cell = np.floor(np.stack([v.x, v.y], axis=1) / block_km).astype(np.int64)
    order = np.lexsort((s_cell[:, 1], s_cell[:, 0]))
    keys, starts = np.unique(s_cell[order], axis=0, return_index=True)
    ends = np.append(starts[1:], len(order))
    parts = []
    for key, start, end in zip(keys, starts, ends, strict=True):
        cell_rows = np.sort(order[start:end])
        reach = math.ceil((float(radius[cell_rows].max()) + BLOCK_MARGIN_KM) / block_km)
        near = np.flatnonzero((np.abs(v_cell[:, 0] - key[0]) <= reach) & (np.abs(v_cell[:, 1] - key[1]) <= reach))
        if near.size == 0:
            continue
        for chunk in range(0, len(cell_rows), CHUNK_ROWS):
            parts.append(_score_block(cell_rows[chunk : chunk + CHUNK_ROWS], near, s, v, radius, w))
    if not parts:
        return pl.DataFrame(schema=MATCH_SCHEMA)
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
    return (
        pairs.join(s_cols, on="_i")
        .join(v_cols, on="_j")
        .with_columns(
            pl.col(c.SKILL_CODES).list.set_intersection(pl.col(c.ITEM_CODES)).list.sort().alias(c.MATCHED_SKILLS),
            pl.col(c.REQUIRED_SKILL_CODES)
            .list.set_difference(pl.col(c.ITEM_CODES))
            .list.sort()
            .alias(c.MISSING_REQUIRED_SKILLS),
        )
        .sort(c.SEEKER_ID, c.RANK)
        .select(list(MATCH_SCHEMA))
        .cast(MATCH_SCHEMA)
    )
