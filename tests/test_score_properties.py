"""Hypothesis properties of the scoring: bounded scores, order independence, protected attributes ignored."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import columns as c
from matching.score import score_matches

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


MOBILITY = pl.DataFrame({c.ROME_CODE: ["R1"], "target_rome_code": ["R2"]})


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(c.SEEKER_ID, c.VACANCY_ID)


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_scores_are_in_unit_interval_and_match_their_components(world: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    seekers, vacancies = world
    out = score_matches(seekers, vacancies, mobility=MOBILITY)
    for col in (c.SCORE, c.SKILL_SCORE, c.OCCUPATION_SCORE, c.DISTANCE_SCORE):
        assert out[col].is_between(0.0, 1.0).all(), col
    recomposed = 0.55 * out[c.SKILL_SCORE] + 0.25 * out[c.OCCUPATION_SCORE] + 0.20 * out[c.DISTANCE_SCORE]
    assert ((recomposed - out[c.SCORE]).abs() < 1e-9).all()
    assert (out[c.DISTANCE_KM] <= out.join(seekers, on=c.SEEKER_ID)[c.RADIUS_KM]).all()


@settings(max_examples=60, deadline=None)
@given(worlds(), st.integers(0, 1000))
def test_row_order_changes_nothing(world: tuple[pl.DataFrame, pl.DataFrame], seed: int) -> None:
    seekers, vacancies = world
    base = canonical(score_matches(seekers, vacancies, mobility=MOBILITY))
    shuffled = canonical(
        score_matches(seekers.sample(fraction=1.0, shuffle=True, seed=seed), vacancies.reverse(), mobility=MOBILITY)
    )
    assert base.equals(shuffled)


@settings(max_examples=40, deadline=None)
@given(
    worlds(),
    st.lists(st.sampled_from(["F", "M", "X"]), min_size=8, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_protected_attributes_change_no_score(
    world: tuple[pl.DataFrame, pl.DataFrame], genders: list[str], disabilities: list[bool]
) -> None:
    seekers, vacancies = world
    n = seekers.height
    with_protected = seekers.with_columns(
        pl.Series(c.GENDER, genders[:n]),
        pl.Series(c.DISABILITY, disabilities[:n]),
        pl.Series(c.BIRTH_YEAR, [1960 + 5 * i for i in range(n)]),
    )
    flipped = with_protected.with_columns(
        pl.col(c.GENDER).replace({"F": "M", "M": "F"}), ~pl.col(c.DISABILITY), pl.col(c.BIRTH_YEAR) + 20
    )
    assert canonical(score_matches(with_protected, vacancies)).equals(canonical(score_matches(flipped, vacancies)))
