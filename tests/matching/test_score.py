"""Hand-computed scores: every expected value below is worked out in the comments."""

from __future__ import annotations

import math

import polars as pl
import pytest

from matching import columns as c
from matching.geo import EARTH_RADIUS_KM, haversine_km
from matching.score import MOBILITY, OTHER, SAME_SHEET, score_matches
from tests.support import helpers

LAT, LON = 45.0, 4.0
KM_PER_DEG_LAT = EARTH_RADIUS_KM * math.pi / 180  # a pure latitude shift of 1 degree, in km


def north(km: float) -> float:
    return LAT + km / KM_PER_DEG_LAT


def seeker(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        c.SEEKER_ID: "S1",
        c.LATITUDE: LAT,
        c.LONGITUDE: LON,
        c.RADIUS_KM: 30.0,
        c.ROME_CODES: ["R1"],
        c.ITEM_CODES: ["a", "c"],
        c.CONTRACT_TYPES: [],
        c.WORKING_TIME: c.ANY,
        c.DRIVING_LICENCE: False,
        c.EXPERIENCE_MONTHS: 0,
    }
    row.update(over)
    return row


def vacancy(vid: str, **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        c.VACANCY_ID: vid,
        c.LATITUDE: LAT,
        c.LONGITUDE: LON,
        c.ROME_CODE: "R1",
        c.SKILL_CODES: ["a", "b"],
        c.REQUIRED_SKILL_CODES: [],
        c.CONTRACT_TYPE: "CDI",
        c.WORKING_TIME: c.FULL_TIME,
        c.LICENCE_REQUIRED: False,
        c.EXPERIENCE_REQUIRED_MONTHS: 0,
    }
    row.update(over)
    return row


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={c.CONTRACT_TYPES: pl.List(pl.String)})


def two_vacancies() -> pl.DataFrame:
    # a, b, c, d each appear in exactly one of the two vacancies: equal idf, so only the boosts weigh.
    return frame(
        [
            vacancy("V1", **{c.REQUIRED_SKILL_CODES: ["b"]}),
            vacancy("V2", **{c.LATITUDE: north(15), c.ROME_CODE: "R2", c.SKILL_CODES: ["c", "d"]}),
        ]
    )


def test_haversine_pure_latitude_shift_is_exact() -> None:
    assert float(haversine_km(LAT, LON, north(15), LON)) == pytest.approx(15.0, abs=1e-9)  # type: ignore[arg-type]


def test_scores_by_hand() -> None:
    out = score_matches(frame([seeker()]), two_vacancies()).sort(c.RANK)
    v1, v2 = out.row(0, named=True), out.row(1, named=True)
    # V1 weighs a = 1 and b = 2 (required, x2); the seeker has a only: skill 1 / 3. Same sheet, distance 0.
    assert v1[c.VACANCY_ID] == "V1"
    assert v1[c.SKILL_SCORE] == pytest.approx(1 / 3)
    assert v1[c.OCCUPATION_RELATION] == SAME_SHEET
    assert v1[c.DISTANCE_SCORE] == pytest.approx(1.0)
    # 0.55 * 1 / 3 + 0.25 * 1 + 0.20 * 1 = 0.55 / 3 + 0.45 = 0.633333
    assert v1[c.SCORE] == pytest.approx(0.55 / 3 + 0.45)
    assert v1[c.MATCHED_SKILLS] == ["a"]
    assert v1[c.MISSING_REQUIRED_SKILLS] == ["b"]
    # V2 weighs c = d = 1; the seeker has c: skill 1 / 2. Other sheet, no link; 15 km of 30 -> 0.5.
    assert v2[c.DISTANCE_KM] == pytest.approx(15.0, abs=1e-6)
    assert v2[c.OCCUPATION_RELATION] == OTHER
    # 0.55 * 0.5 + 0.25 * 0 + 0.20 * 0.5 = 0.375
    assert v2[c.SCORE] == pytest.approx(0.55 * 0.5 + 0.20 * 0.5)
    assert v2[c.MATCHED_SKILLS] == ["c"]
    assert v2[c.MISSING_REQUIRED_SKILLS] == []


def test_core_items_weigh_more() -> None:
    core = pl.DataFrame({c.ROME_CODE: ["R1"], "item_code": ["a"]})
    out = score_matches(frame([seeker()]), two_vacancies(), core_items=core)
    v1 = out.filter(pl.col(c.VACANCY_ID) == "V1").row(0, named=True)
    # a is core for R1 (x2) and b required (x2): the seeker covers 2 / 4 -> 0.55 * 0.5 + 0.45 = 0.725
    assert v1[c.SKILL_SCORE] == pytest.approx(2 / 4)
    assert v1[c.SCORE] == pytest.approx(0.55 * 0.5 + 0.25 * 1 + 0.20 * 1)


def test_skills_the_vacancy_does_not_ask_for_change_nothing() -> None:
    more = seeker(**{c.ITEM_CODES: ["a", "c", "x", "y", "z"]})
    base = score_matches(frame([seeker()]), two_vacancies()).drop(c.SEEKER_ID)
    assert score_matches(frame([more]), two_vacancies()).drop(c.SEEKER_ID).equals(base)


def test_mobility_link_gives_half_occupation_credit() -> None:
    out = score_matches(frame([seeker()]), two_vacancies(), mobility=helpers.MOBILITY)
    v2 = out.filter(pl.col(c.VACANCY_ID) == "V2").row(0, named=True)
    assert v2[c.OCCUPATION_RELATION] == MOBILITY
    # 0.375 + 0.25 * 0.5 = 0.5
    assert v2[c.SCORE] == pytest.approx(0.55 * 0.5 + 0.25 * 0.5 + 0.20 * 0.5)


def test_top_k_and_min_score() -> None:
    assert score_matches(frame([seeker()]), two_vacancies(), top_k=1)[c.VACANCY_ID].to_list() == ["V1"]
    assert score_matches(frame([seeker()]), two_vacancies(), min_score=0.5)[c.VACANCY_ID].to_list() == ["V1"]


def test_top_k_is_per_seeker_and_min_score_keeps_a_score_equal_to_it() -> None:
    # S1 as in test_scores_by_hand: V1 0.55 / 3 + 0.45 = 0.633333, V2 0.375.
    # S2 lives at V2 (north 15 km), wants R2 and has only item a:
    # - V2: no shared item (skill 0), same sheet (1), 0 km (distance 1): 0.25 * 1 + 0.20 * 1 = 0.45 exactly
    #   (0.55 * 0.0 + 0.25 * 1.0 = 0.25 and 0.25 + 0.20 * 1.0 = 0.45 are exact in binary floating point too)
    # - V1: a of a (1) + b (2): skill 1 / 3, other sheet, 15 km of 30: 0.55 / 3 + 0.20 * 0.5 = 0.283333
    s2 = seeker(**{c.SEEKER_ID: "S2", c.LATITUDE: north(15), c.ROME_CODES: ["R2"], c.ITEM_CODES: ["a"]})
    seekers = frame([seeker(), s2])
    everything = score_matches(seekers, two_vacancies())
    assert everything.select(c.SEEKER_ID, c.VACANCY_ID, c.RANK).rows() == [
        ("S1", "V1", 1),
        ("S1", "V2", 2),
        ("S2", "V2", 1),
        ("S2", "V1", 2),
    ]
    assert everything[c.SCORE].to_list() == pytest.approx([0.55 / 3 + 0.45, 0.375, 0.45, 0.55 / 3 + 0.20 * 0.5])
    # top_k=1 keeps each seeker's own best, not the best one overall
    best = score_matches(seekers, two_vacancies(), top_k=1)
    assert best.select(c.SEEKER_ID, c.VACANCY_ID, c.RANK).rows() == [("S1", "V1", 1), ("S2", "V2", 1)]
    # a score equal to min_score is kept (>=); one step of the float above it drops the pair
    at = score_matches(seekers, two_vacancies(), top_k=1, min_score=0.25 + 0.20)
    assert at.select(c.SEEKER_ID, c.VACANCY_ID).rows() == [("S1", "V1"), ("S2", "V2")]
    assert at.filter(pl.col(c.SEEKER_ID) == "S2")[c.SCORE].item() == 0.45
    above = score_matches(seekers, two_vacancies(), top_k=1, min_score=math.nextafter(0.45, 1.0))
    assert above.select(c.SEEKER_ID, c.VACANCY_ID).rows() == [("S1", "V1")]


@pytest.mark.parametrize(
    ("seeker_over", "vacancy_over"),
    [
        ({c.CONTRACT_TYPES: ["CDD"]}, {}),
        ({c.WORKING_TIME: c.PART_TIME}, {}),
        ({}, {c.LICENCE_REQUIRED: True}),
        ({c.EXPERIENCE_MONTHS: 6}, {c.EXPERIENCE_REQUIRED_MONTHS: 12}),
        ({}, {c.LATITUDE: north(30.5)}),
        ({c.QUALIFICATION_CODE: "6"}, {c.QUALIFICATION_CODE: "7"}),  # step 3 against step 5
    ],
    ids=["contract", "working-time", "licence", "experience", "beyond-radius", "qualification"],
)
def test_vetoes_drop_the_pair(seeker_over: dict[str, object], vacancy_over: dict[str, object]) -> None:
    assert score_matches(frame([seeker(**seeker_over)]), frame([vacancy("V", **vacancy_over)])).is_empty()


@pytest.mark.parametrize(
    ("seeker_level", "vacancy_level"),
    [("4", "7"), ("6", "3"), ("9", "1"), (None, "9"), ("6", None)],
    ids=["one-step-below", "same-step", "above", "seeker-unknown", "vacancy-unknown"],
)
def test_qualification_within_one_step_passes(seeker_level: str | None, vacancy_level: str | None) -> None:
    # ladder steps: 4 (ouvrier P3/P4) is step 4 and 7 (technicien) step 5; 6 and 3 are both step 3
    s = seeker(**{c.QUALIFICATION_CODE: seeker_level})
    v = vacancy("V", **{c.QUALIFICATION_CODE: vacancy_level})
    assert score_matches(frame([s]), frame([v])).height == 1


def test_vetoes_pass_when_satisfied() -> None:
    s = seeker(**{c.CONTRACT_TYPES: ["CDD", "CDI"], c.DRIVING_LICENCE: True, c.EXPERIENCE_MONTHS: 12})
    v = vacancy("V", **{c.LICENCE_REQUIRED: True, c.EXPERIENCE_REQUIRED_MONTHS: 12, c.LATITUDE: north(29.5)})
    out = score_matches(frame([s]), frame([v]))
    # 29.5 km of 30: distance score 0.5 / 30 = 0.016667
    assert out[c.DISTANCE_SCORE].item() == pytest.approx(0.5 / 30, abs=1e-6)


def test_far_block_neighbours_are_found() -> None:
    # A 200 km radius spans several 50 km cells: the vacancy 190 km north must still be found.
    s = seeker(**{c.RADIUS_KM: 200.0})
    out = score_matches(frame([s]), frame([vacancy("V", **{c.LATITUDE: north(190)})]))
    assert out[c.DISTANCE_KM].item() == pytest.approx(190.0, abs=1e-6)


def test_no_shared_item_nor_sheet_is_no_candidate() -> None:
    v = vacancy("V", **{c.ROME_CODE: "R9", c.SKILL_CODES: ["z"]})
    assert score_matches(frame([seeker()]), frame([v])).is_empty()


def test_seekers_without_sheets_do_not_shift_mobility_rows() -> None:
    # A seeker with no wanted sheet comes first; the second seeker's mobility link must stay its own.
    first = seeker(**{c.SEEKER_ID: "S0", c.ROME_CODES: [], c.ITEM_CODES: ["zz"]})
    out = score_matches(frame([first, seeker()]), two_vacancies(), mobility=helpers.MOBILITY)
    assert out.filter(pl.col(c.VACANCY_ID) == "V2")[c.OCCUPATION_RELATION].to_list() == [MOBILITY]
    assert out[c.SEEKER_ID].unique().to_list() == ["S1"]
