"""Sharded scoring equals unsharded scoring: border areas included, idf taken over the whole night."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.reference import Reference
from matching import columns as c
from matching.geo import haversine_km, planar_km
from matching.score import score_matches, score_matches_with_stats
from matching.shards import SHARD, assign, department, plan_shards, shard_count, shard_inputs, vacancies_in_reach
from tests.support.helpers import MOBILITY

ITEMS = [f"i{n}" for n in range(10)]
SHEETS = ["R1", "R2", "R3"]


def world(
    communes: pl.DataFrame, n_seekers: int, n_vacancies: int, seed: int, radii: tuple[float, ...] = (10, 30, 80, 200)
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Seekers and vacancies in the given communes (code, latitude, longitude), random everything else."""
    rng = np.random.default_rng(seed)

    def pick(options: list, n: int) -> list:
        return [options[k] for k in rng.integers(0, len(options), n)]

    def some(n: int, lo: int, hi: int) -> list[list[str]]:
        return [sorted(set(pick(ITEMS, int(rng.integers(lo, hi + 1))))) for _ in range(n)]

    s_at = communes.sample(n_seekers, with_replacement=True, seed=seed)
    v_at = communes.sample(n_vacancies, with_replacement=True, seed=seed + 1)
    seekers = pl.DataFrame(
        {
            c.SEEKER_ID: [f"S{k:05d}" for k in range(n_seekers)],
            c.COMMUNE: s_at.get_column(c.COMMUNE),
            c.LATITUDE: s_at.get_column(c.LATITUDE),
            c.LONGITUDE: s_at.get_column(c.LONGITUDE),
            c.RADIUS_KM: pick(list(map(float, radii)), n_seekers),
            c.ROME_CODES: [sorted(set(pick(SHEETS, 2))) for _ in range(n_seekers)],
            c.ITEM_CODES: some(n_seekers, 1, 5),
            c.CONTRACT_TYPES: [pick(["CDI", "CDD"], int(rng.integers(0, 2))) for _ in range(n_seekers)],
            c.WORKING_TIME: pick([c.ANY, c.FULL_TIME, c.PART_TIME], n_seekers),
            c.DRIVING_LICENCE: rng.random(n_seekers) < 0.7,
            c.EXPERIENCE_MONTHS: pick([0, 12], n_seekers),
        },
        schema_overrides={c.CONTRACT_TYPES: pl.List(pl.String)},
    )
    skills = some(n_vacancies, 1, 5)
    vacancies = pl.DataFrame(
        {
            c.VACANCY_ID: [f"V{k:05d}" for k in range(n_vacancies)],
            c.COMMUNE: v_at.get_column(c.COMMUNE),
            c.LATITUDE: v_at.get_column(c.LATITUDE),
            c.LONGITUDE: v_at.get_column(c.LONGITUDE),
            c.ROME_CODE: pick(SHEETS, n_vacancies),
            c.SKILL_CODES: skills,
            c.REQUIRED_SKILL_CODES: [s[: int(rng.integers(0, len(s) + 1))] for s in skills],
            c.CONTRACT_TYPE: pick(["CDI", "CDD"], n_vacancies),
            c.WORKING_TIME: pick([c.FULL_TIME, c.PART_TIME], n_vacancies),
            c.LICENCE_REQUIRED: rng.random(n_vacancies) < 0.2,
            c.EXPERIENCE_REQUIRED_MONTHS: pick([0, 6], n_vacancies),
        },
        schema_overrides={c.REQUIRED_SKILL_CODES: pl.List(pl.String)},
    )
    return seekers, vacancies


def sharded(seekers: pl.DataFrame, vacancies: pl.DataFrame, shards: int, **kw: object) -> pl.DataFrame:
    plan = plan_shards(seekers, shards=shards)
    parts = []
    for shard in plan.get_column(SHARD).unique().sort().to_list():
        mine, reach = shard_inputs(seekers, vacancies, plan, shard)
        parts.append(score_matches_with_stats(mine, reach, idf_over=vacancies, **kw)[0])  # type: ignore[arg-type]
    return pl.concat(parts).sort(c.SEEKER_ID, c.RANK)


def communes_in(reference: Reference, departments: list[str]) -> pl.DataFrame:
    places = reference.communes.select(c.COMMUNE, c.LATITUDE, c.LONGITUDE).drop_nulls()
    return places.filter(department(places.get_column(c.COMMUNE)).is_in(departments))


def test_department_codes() -> None:
    codes = pl.Series(["01001", "2A004", "2B033", "97101", "97611", "75056"])
    assert department(codes).to_list() == ["01", "2A", "2B", "971", "976", "75"]


def test_plan_balances_seekers_and_keeps_departments_whole(reference: Reference) -> None:
    seekers, _ = world(reference.communes.drop_nulls([c.LATITUDE]), 5_000, 10, seed=1)
    plan = plan_shards(seekers, shards=8)
    assert plan.get_column("department").is_unique().all()
    assert plan.get_column(SHARD).n_unique() == 8
    sizes = plan.group_by(SHARD).agg(pl.col("seekers").sum()).get_column("seekers")
    assert sizes.sum() == 5_000
    # Balance: a département goes to the shard where the middle of its seekers falls in the running total,
    # cut at multiples of 5_000 / 8 = 625. A shard therefore spans [j * 625, (j + 1) * 625) widened (or
    # narrowed) by at most half a département at each end: every shard is within one largest département
    # of 625, whatever the order of the départements (so max - min < 2 x the largest département).
    largest = plan.get_column("seekers").max()
    assert isinstance(largest, int) and largest < 625
    assert ((sizes.cast(pl.Int64) - 5_000 / 8).abs() < largest).all(), (sorted(sizes), largest)
    assert sizes.max() - sizes.min() < 2 * largest  # type: ignore[operator]
    assert assign(seekers, plan).get_column(SHARD).null_count() == 0
    assert shard_count(1_000_000) == 10 and shard_count(400) == 2 and shard_count(10_000_000) == 16


def test_sharded_equals_unsharded_across_borders_with_a_200_km_radius(reference: Reference) -> None:
    # Ardèche, Drôme, Isère, Rhône, Loire, Haute-Loire, Gard, Vaucluse: many seekers live near a border,
    # 200 km radii reach across several départements.
    communes = communes_in(reference, ["07", "26", "38", "69", "42", "43", "30", "84"])
    seekers, vacancies = world(communes, 600, 400, seed=5)
    kw = {"mobility": MOBILITY, "min_score": 0.2, "top_k": 5}
    whole = score_matches(seekers, vacancies, **kw)
    assert whole.height > 500
    split = sharded(seekers, vacancies, 6, **kw)
    assert split.equals(whole)
    # many matches cross a département border, some 200 km radii reach far: the border areas matter
    where = whole.join(seekers.select(c.SEEKER_ID, pl.col(c.COMMUNE).alias("_s")), on=c.SEEKER_ID).join(
        vacancies.select(c.VACANCY_ID, pl.col(c.COMMUNE).alias("_v")), on=c.VACANCY_ID
    )
    crossing = where.filter(department(where.get_column("_s")) != department(where.get_column("_v")))
    assert crossing.height > 50 and crossing.get_column(c.DISTANCE_KM).max() > 100  # type: ignore[operator]


def test_a_shard_needs_the_whole_nights_idf(reference: Reference) -> None:
    communes = communes_in(reference, ["07", "26", "38", "69", "42", "43", "30", "84"])
    seekers, vacancies = world(communes, 300, 300, seed=6, radii=(10, 20))
    kw = {"mobility": MOBILITY, "min_score": 0.2, "top_k": 5}
    whole = score_matches(seekers, vacancies, **kw)
    plan = plan_shards(seekers, shards=4)
    mine, reach = shard_inputs(seekers, vacancies, plan, 0)
    assert 0 < reach.height < vacancies.height
    expected = whole.filter(pl.col(c.SEEKER_ID).is_in(mine.get_column(c.SEEKER_ID).implode()))
    assert score_matches_with_stats(mine, reach, idf_over=vacancies, **kw)[0].equals(expected)  # type: ignore[arg-type]
    assert not score_matches(mine, reach, **kw).equals(expected)


def test_reach_keeps_every_vacancy_within_a_radius(reference: Reference) -> None:
    communes = communes_in(
        reference, ["07", "26", "38", "30", "84", "13", "04", "05", "34", "48", "43", "42", "69", "01", "73"]
    )
    seekers, vacancies = world(communes, 10, 2_000, seed=9, radii=(10, 30))
    assert sorted(set(seekers[c.RADIUS_KM].to_list())) == [10.0, 30.0]
    reach = vacancies_in_reach(seekers, vacancies)
    kept = set(reach.get_column(c.VACANCY_ID).to_list())
    # short radii: the reach is a strict part of the 2_000 vacancies spread over 15 départements
    assert 0 < len(kept) < vacancies.height
    within_any: set[str] = set()
    for row in seekers.iter_rows(named=True):
        d = haversine_km(
            np.full(vacancies.height, row[c.LATITUDE]),
            np.full(vacancies.height, row[c.LONGITUDE]),
            vacancies.get_column(c.LATITUDE).to_numpy(),
            vacancies.get_column(c.LONGITUDE).to_numpy(),
        )
        within = set(vacancies.filter(pl.Series(d <= row[c.RADIUS_KM])).get_column(c.VACANCY_ID).to_list())
        assert within <= kept, row[c.SEEKER_ID]
        within_any |= within
    assert within_any  # the inclusion above is not vacuous
    # "a few more" is bounded: with 10 km squares and a 2 km margin, a kept vacancy's square is at most
    # ceil((30 + 2) / 10) = 4 squares from a seeker's square in x and in y, so in the plane it is less than
    # (4 + 1) x 10 = 50 km from that seeker along each axis
    bound = (math.ceil((30 + 2) / 10) + 1) * 10
    sx, sy = planar_km(seekers[c.LATITUDE].to_numpy(), seekers[c.LONGITUDE].to_numpy())
    vx, vy = planar_km(reach[c.LATITUDE].to_numpy(), reach[c.LONGITUDE].to_numpy())
    near = (np.abs(vx[:, None] - sx[None, :]) < bound) & (np.abs(vy[:, None] - sy[None, :]) < bound)
    assert near.any(axis=1).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), shards=st.integers(1, 9))
def test_sharding_never_changes_the_matches(reference: Reference, seed: int, shards: int) -> None:
    communes = communes_in(reference, ["01", "38", "73", "74", "69", "71", "39"])
    seekers, vacancies = world(communes, 150, 120, seed=seed, radii=(5, 20, 50, 200))
    kw = {"mobility": MOBILITY, "min_score": 0.3, "top_k": 3}
    assert sharded(seekers, vacancies, shards, **kw).equals(score_matches(seekers, vacancies, **kw))
