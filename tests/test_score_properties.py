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


def pair_score(out: pl.DataFrame, seeker_id: str, vacancy_id: str) -> float | None:
    hit = out.filter((pl.col(c.SEEKER_ID) == seeker_id) & (pl.col(c.VACANCY_ID) == vacancy_id))
    return None if hit.is_empty() else float(hit[c.SCORE].item())


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data())
def test_adding_a_shared_skill_never_lowers_a_score(
    world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject
) -> None:
    seekers, vacancies = world
    out = score_matches(seekers, vacancies, mobility=MOBILITY, top_k=100)
    if out.is_empty():
        return
    row = out.row(data.draw(st.integers(0, out.height - 1)), named=True)
    wanted = vacancies.filter(pl.col(c.VACANCY_ID) == row[c.VACANCY_ID])[c.SKILL_CODES].item().to_list()
    has = seekers.filter(pl.col(c.SEEKER_ID) == row[c.SEEKER_ID])[c.ITEM_CODES].item().to_list()
    missing = [code for code in wanted if code not in has]
    if not missing:
        return
    added = data.draw(st.sampled_from(missing))
    richer = seekers.with_columns(
        pl.when(pl.col(c.SEEKER_ID) == row[c.SEEKER_ID])
        .then(pl.col(c.ITEM_CODES).list.concat(pl.lit([added])))
        .otherwise(pl.col(c.ITEM_CODES))
        .alias(c.ITEM_CODES)
    )
    after = pair_score(
        score_matches(richer, vacancies, mobility=MOBILITY, top_k=100), row[c.SEEKER_ID], row[c.VACANCY_ID]
    )
    assert after is not None and after >= row[c.SCORE] - 1e-12


@settings(max_examples=60, deadline=None)
@given(worlds(), st.data(), st.floats(0.5, 40.0))
def test_moving_a_vacancy_farther_never_raises_a_score(
    world: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject, km: float
) -> None:
    seekers, vacancies = world
    out = score_matches(seekers, vacancies, mobility=MOBILITY, top_k=100)
    if out.is_empty():
        return
    row = out.row(data.draw(st.integers(0, out.height - 1)), named=True)
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
    after = pair_score(score_matches(seekers, moved, mobility=MOBILITY, top_k=100), row[c.SEEKER_ID], row[c.VACANCY_ID])
    assert after is None or after <= row[c.SCORE] + 1e-12
