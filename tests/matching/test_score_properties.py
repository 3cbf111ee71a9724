"""Hypothesis properties of the scoring: bounded scores, order independence, protected attributes ignored."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matching import columns as c
from matching.score import score_matches
from tests.support.helpers import MOBILITY

ITEMS = [f"i{n}" for n in range(12)]
SHEETS = ["R1", "R2", "R3"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_seekers = draw(st.integers(1, 8))
    n_vacancies = draw(st.integers(1, 8))
    coord = st.tuples(st.floats(44.0, 44.6), st.floats(4.0, 4.6))
    seekers = []
    for i in range(n_seekers):
        lat, lon = draw(coord)
        seekers.append(
            {
                c.SEEKER_ID: f"S{i}",
                c.LATITUDE: lat,
                c.LONGITUDE: lon,
                c.RADIUS_KM: draw(st.sampled_from([10.0, 30.0, 80.0])),
                c.ROME_CODES: draw(st.lists(st.sampled_from(SHEETS), min_size=1, max_size=2, unique=True)),
                c.ITEM_CODES: draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=6, unique=True)),
                c.CONTRACT_TYPES: draw(st.lists(st.sampled_from(["CDI", "CDD"]), max_size=2, unique=True)),
                c.WORKING_TIME: draw(st.sampled_from([c.ANY, c.FULL_TIME, c.PART_TIME])),
                c.DRIVING_LICENCE: draw(st.booleans()),
                c.EXPERIENCE_MONTHS: draw(st.sampled_from([0, 12])),
            }
        )
    vacancies = []
    for j in range(n_vacancies):
        lat, lon = draw(coord)
        skills = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=6, unique=True))
        vacancies.append(
            {
                c.VACANCY_ID: f"V{j}",
                c.LATITUDE: lat,
                c.LONGITUDE: lon,
                c.ROME_CODE: draw(st.sampled_from(SHEETS)),
                c.SKILL_CODES: skills,
                c.REQUIRED_SKILL_CODES: skills[: draw(st.integers(0, len(skills)))],
                c.CONTRACT_TYPE: draw(st.sampled_from(["CDI", "CDD"])),
                c.WORKING_TIME: draw(st.sampled_from([c.FULL_TIME, c.PART_TIME])),
                c.LICENCE_REQUIRED: draw(st.booleans()),
                c.EXPERIENCE_REQUIRED_MONTHS: draw(st.sampled_from([0, 6])),
            }
        )
    schema = {c.CONTRACT_TYPES: pl.List(pl.String)}
    return pl.DataFrame(seekers, schema_overrides=schema), pl.DataFrame(vacancies)


ALL = 100  # top_k above any world's vacancy count (at most 8): every pair that passes is returned


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(c.SEEKER_ID, c.VACANCY_ID)


def scored_pairs(out: pl.DataFrame) -> dict[tuple[str, str], tuple[float, ...]]:
    """(seeker, vacancy) -> the score and its components and distance (everything but the rank)."""
    values = (c.SCORE, c.SKILL_SCORE, c.OCCUPATION_SCORE, c.DISTANCE_SCORE, c.DISTANCE_KM)
    return {(row[c.SEEKER_ID], row[c.VACANCY_ID]): tuple(row[v] for v in values) for row in out.iter_rows(named=True)}


def pair_score(out: pl.DataFrame, seeker_id: str, vacancy_id: str) -> float | None:
    hit = out.filter((pl.col(c.SEEKER_ID) == seeker_id) & (pl.col(c.VACANCY_ID) == vacancy_id))
    return None if hit.is_empty() else float(hit[c.SCORE].item())


def some_match(world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject) -> dict[str, Any]:
    """One match of the world, drawn by hypothesis (worlds without any match are rejected)."""
    seekers, vacancies = world
    out = score_matches(seekers, vacancies, mobility=MOBILITY, top_k=ALL)
    assume(not out.is_empty())
    return out.row(data.draw(st.integers(0, out.height - 1)), named=True)


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_scores_are_in_unit_interval_and_match_their_components(world: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    seekers, vacancies = world
    out = score_matches(seekers, vacancies, mobility=MOBILITY, top_k=ALL)
    for col in (c.SCORE, c.SKILL_SCORE, c.OCCUPATION_SCORE, c.DISTANCE_SCORE):
        assert out[col].is_between(0.0, 1.0).all(), col
    recomposed = 0.55 * out[c.SKILL_SCORE] + 0.25 * out[c.OCCUPATION_SCORE] + 0.20 * out[c.DISTANCE_SCORE]
    assert ((recomposed - out[c.SCORE]).abs() < 1e-9).all()
    # each match against its own seeker's radius, compared within one joined frame
    joined = out.join(seekers.select(c.SEEKER_ID, c.RADIUS_KM), on=c.SEEKER_ID, how="left")
    assert joined.height == out.height and joined[c.RADIUS_KM].null_count() == 0
    assert (joined[c.DISTANCE_KM] <= joined[c.RADIUS_KM]).all()


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data())
def test_ids_and_row_order_change_no_score(world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject) -> None:
    # The scorer sorts its inputs by id: relabelling the ids (and shuffling the rows) really changes the
    # order in which seekers and vacancies are processed. Every pair must keep its score all the same.
    seekers, vacancies = world
    seeker_perm = data.draw(st.permutations(range(seekers.height)))
    vacancy_perm = data.draw(st.permutations(range(vacancies.height)))
    assume(seeker_perm != list(range(seekers.height)) or vacancy_perm != list(range(vacancies.height)))
    new_seeker = {f"S{i}": f"S{k}" for i, k in enumerate(seeker_perm)}
    new_vacancy = {f"V{j}": f"V{k}" for j, k in enumerate(vacancy_perm)}
    relabelled = score_matches(
        seekers.with_columns(pl.col(c.SEEKER_ID).replace_strict(new_seeker)).reverse(),
        vacancies.with_columns(pl.col(c.VACANCY_ID).replace_strict(new_vacancy)).reverse(),
        mobility=MOBILITY,
        top_k=ALL,
    )
    old_seeker = {v: k for k, v in new_seeker.items()}
    old_vacancy = {v: k for k, v in new_vacancy.items()}
    back = relabelled.with_columns(
        pl.col(c.SEEKER_ID).replace_strict(old_seeker), pl.col(c.VACANCY_ID).replace_strict(old_vacancy)
    )
    base = score_matches(seekers, vacancies, mobility=MOBILITY, top_k=ALL)
    assert scored_pairs(back) == scored_pairs(base)
    assert back.height == base.height


@st.composite
def protected_values(draw: st.DrawFn, n: int) -> list[dict[str, Any]]:
    """Protected attributes for ``n`` seekers."""
    return [
        {
            c.GENDER: draw(st.sampled_from(["F", "M", "X", None])),
            c.BIRTH_YEAR: draw(st.integers(1950, 2008)),
            c.DISABILITY: draw(st.booleans()),
        }
        for _ in range(n)
    ]


def with_protected(seekers: pl.DataFrame, values: list[dict[str, Any]]) -> pl.DataFrame:
    return seekers.with_columns(
        pl.Series(c.GENDER, [v[c.GENDER] for v in values], dtype=pl.String),
        pl.Series(c.BIRTH_YEAR, [v[c.BIRTH_YEAR] for v in values], dtype=pl.Int32),
        pl.Series(c.DISABILITY, [v[c.DISABILITY] for v in values], dtype=pl.Boolean),
    )


@settings(max_examples=40, deadline=None)
@given(worlds(), st.data())
def test_protected_attributes_change_no_score(world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject) -> None:
    # Two independent draws of gender, birth year and disability for the same seekers, and none at all:
    # every pair comes out with the same score, components and rank.
    seekers, vacancies = world
    one = data.draw(protected_values(seekers.height))
    other = data.draw(protected_values(seekers.height))
    assume(one != other)
    without = canonical(score_matches(seekers, vacancies, mobility=MOBILITY, top_k=ALL))
    for values in (one, other):
        scored = canonical(score_matches(with_protected(seekers, values), vacancies, mobility=MOBILITY, top_k=ALL))
        assert scored_pairs(scored) == scored_pairs(without)
        assert scored.equals(without)


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data())
def test_adding_a_shared_skill_never_lowers_a_score(
    world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject
) -> None:
    seekers, vacancies = world
    row = some_match(world, data)
    wanted = vacancies.filter(pl.col(c.VACANCY_ID) == row[c.VACANCY_ID])[c.SKILL_CODES].item().to_list()
    has = seekers.filter(pl.col(c.SEEKER_ID) == row[c.SEEKER_ID])[c.ITEM_CODES].item().to_list()
    missing = [code for code in wanted if code not in has]
    assume(missing)
    added = data.draw(st.sampled_from(missing))
    richer = seekers.with_columns(
        pl.when(pl.col(c.SEEKER_ID) == row[c.SEEKER_ID])
        .then(pl.col(c.ITEM_CODES).list.concat(pl.lit([added])))
        .otherwise(pl.col(c.ITEM_CODES))
        .alias(c.ITEM_CODES)
    )
    after = pair_score(
        score_matches(richer, vacancies, mobility=MOBILITY, top_k=ALL), row[c.SEEKER_ID], row[c.VACANCY_ID]
    )
    assert after is not None and after >= row[c.SCORE] - 1e-12


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data(), st.floats(0.5, 40.0))
def test_moving_a_vacancy_farther_never_raises_a_score(
    world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject, km: float
) -> None:
    seekers, vacancies = world
    row = some_match(world, data)
    s = seekers.filter(pl.col(c.SEEKER_ID) == row[c.SEEKER_ID]).row(0, named=True)
    v = vacancies.filter(pl.col(c.VACANCY_ID) == row[c.VACANCY_ID]).row(0, named=True)
    # push the vacancy straight away from the seeker along the line between them
    dlat, dlon = v[c.LATITUDE] - s[c.LATITUDE], v[c.LONGITUDE] - s[c.LONGITUDE]
    norm = max((dlat**2 + dlon**2) ** 0.5, 1e-9)
    step = km / 111.0
    moved = vacancies.with_columns(
        pl.when(pl.col(c.VACANCY_ID) == row[c.VACANCY_ID])
        .then(pl.col(c.LATITUDE) + step * dlat / norm if norm > 1e-6 else pl.col(c.LATITUDE) + step)
        .otherwise(pl.col(c.LATITUDE))
        .alias(c.LATITUDE),
        pl.when(pl.col(c.VACANCY_ID) == row[c.VACANCY_ID])
        .then(pl.col(c.LONGITUDE) + step * dlon / norm if norm > 1e-6 else pl.col(c.LONGITUDE))
        .otherwise(pl.col(c.LONGITUDE))
        .alias(c.LONGITUDE),
    )
    after = pair_score(score_matches(seekers, moved, mobility=MOBILITY, top_k=ALL), row[c.SEEKER_ID], row[c.VACANCY_ID])
    assert after is None or after <= row[c.SCORE] + 1e-12


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data(), st.integers(1, 3))
def test_top_k_cuts_ties_by_distance_then_vacancy_id_whatever_the_row_order(
    world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject, top_k: int
) -> None:
    # Vacancies crowded on two spots, each spot with one sheet and one skill set: many pairs score the same at
    # the same distance, and the top k must still be one list, the head of the full one ordered by score,
    # then distance, then vacancy id, whatever the order of the rows.
    seekers, vacancies = world
    spots = data.draw(st.lists(st.integers(0, 1), min_size=vacancies.height, max_size=vacancies.height))
    crowded = vacancies.with_columns(
        pl.Series(c.LATITUDE, [44.3 + 0.05 * k for k in spots]),
        pl.Series(c.LONGITUDE, [4.3] * len(spots)),
        pl.Series(c.ROME_CODE, [SHEETS[k] for k in spots]),
        pl.Series(c.SKILL_CODES, [ITEMS[: 3 + k] for k in spots]),
        pl.Series(c.REQUIRED_SKILL_CODES, [[] for _ in spots], dtype=pl.List(pl.String)),
    )
    every = score_matches(seekers, crowded, mobility=MOBILITY, top_k=ALL)
    expected = (
        every.sort([c.SEEKER_ID, c.SCORE, c.DISTANCE_KM, c.VACANCY_ID], descending=[False, True, False, False])
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over(c.SEEKER_ID).alias(c.RANK))
        .filter(pl.col(c.RANK) <= top_k)
        .select(c.SEEKER_ID, c.VACANCY_ID, c.RANK)
    )
    seed = data.draw(st.integers(0, 2**16))
    shuffled = score_matches(
        seekers.sample(fraction=1.0, shuffle=True, seed=seed),
        crowded.sample(fraction=1.0, shuffle=True, seed=seed + 1),
        mobility=MOBILITY,
        top_k=top_k,
    )
    assert shuffled.select(c.SEEKER_ID, c.VACANCY_ID, c.RANK).equals(expected)
    assert shuffled.equals(score_matches(seekers, crowded, mobility=MOBILITY, top_k=top_k))
