"""The naive way, for the benchmark: a DuckDB join on shared codes, the same vetoes and score in SQL.

No geographic blocking and no sparse algebra: every seeker-vacancy pair that shares a ROME item or a
sheet (or a mobility link) is joined, then filtered by distance and vetoes and ranked with a window.
Used only by ``tremplin.bench.nightly`` to measure the speed ratio against :func:`matching.score.score_matches`
on the same inputs.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from matching import columns as c
from matching.score import QUALIFICATION_LADDER, score_matches
from tremplin.nightly.common import reference
from tremplin.nightly.shards import SEEKERS_FILE, VACANCIES_FILE, scoring_options, shard_dir
from tremplin.settings import Settings


def _ladder(column: str) -> str:
    """The qualification ladder of matching.score as a SQL CASE (0 when unknown)."""
    whens = " ".join(f"when '{code}' then {step}" for code, step in QUALIFICATION_LADDER.items())
    return f"(case {column} {whens} else 0 end)"


NAIVE_SQL = """
with
n as (select count(*)::double as n from vacancies),
v_items as (select distinct vacancy_id, rome_code, unnest(skill_codes) as code, required_skill_codes from vacancies),
df as (select code, count(*)::double as df from v_items group by code),
weighted as (
    select i.vacancy_id, i.code,
        (ln((1 + n.n) / (1 + df.df)) + 1)
        * (case when k.item_code is not null then $core_weight else 1 end)
        * (case when list_contains(i.required_skill_codes, i.code) then $required_weight else 1 end) as w
    from v_items i cross join n join df using (code)
    left join core k on k.rome_code = i.rome_code and k.item_code = i.code
),
v_weights as (select vacancy_id, code, w / sum(w) over (partition by vacancy_id) as w from weighted),
s_items as (select distinct seeker_id, unnest(item_codes) as code from seekers),
skill as (
    select s.seeker_id, v.vacancy_id, least(sum(v.w), 1.0) as skill
    from s_items s join v_weights v using (code) group by all
),
s_sheets as (select distinct seeker_id, unnest(rome_codes) as rome_code from seekers),
same as (select distinct s.seeker_id, v.vacancy_id from s_sheets s join vacancies v using (rome_code)),
linked as (
    select distinct s.seeker_id, v.vacancy_id
    from s_sheets s join mobility m on m.rome_code = s.rome_code join vacancies v on v.rome_code = m.target_rome_code
),
pairs as (
    select seeker_id, vacancy_id from skill union select * from same union select * from linked
),
measured as (
    select p.seeker_id, p.vacancy_id, coalesce(k.skill, 0) as skill,
        case when sm.seeker_id is not null then 1.0 when l.seeker_id is not null then $mobility_credit else 0 end
            as occupation,
        2 * 6371.0088 * asin(sqrt(least(1, greatest(0,
            pow(sin(radians(v.latitude - s.latitude) / 2), 2)
            + cos(radians(s.latitude)) * cos(radians(v.latitude))
            * pow(sin(radians(v.longitude - s.longitude) / 2), 2))))) as distance_km,
        s.radius_km
    from pairs p
    join seekers s using (seeker_id)
    join vacancies v using (vacancy_id)
    left join skill k using (seeker_id, vacancy_id)
    left join same sm using (seeker_id, vacancy_id)
    left join linked l using (seeker_id, vacancy_id)
    where (len(coalesce(s.contract_types, [])) = 0 or list_contains(s.contract_types, v.contract_type))
      and (coalesce(s.working_time, 'any') not in ('full_time', 'part_time') or s.working_time = v.working_time)
      and (not coalesce(v.licence_required, false) or coalesce(s.driving_licence, false))
      and coalesce(v.experience_required_months, 0) <= coalesce(s.experience_months, 0)
      and ({ladder_s} = 0 or {ladder_s} + 1 >= {ladder_v})
),
scored as (
    select *, least(1.0, greatest(0.0,
        $w_skill * skill + $w_occupation * occupation
        + $w_distance * least(1.0, greatest(0.0, 1 - distance_km / radius_km)))) as score
    from measured where distance_km <= radius_km
),
final as (
    select seeker_id, vacancy_id, score, distance_km,
        row_number() over (partition by seeker_id order by score desc, distance_km, vacancy_id) as rank
    from scored where score >= $min_score
)
select * from final where rank <= $top_k order by seeker_id, rank
""".replace("{ladder_s}", _ladder("s.qualification_code")).replace("{ladder_v}", _ladder("v.qualification_code"))


def sample_inputs(
    settings: Settings, run_date: date, sample: tuple[int, int], seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A seeded sample of the night's match inputs, from the Parquet snapshot the score step exported."""
    folder = shard_dir(settings, run_date)
    seekers = pl.read_parquet(folder / SEEKERS_FILE)
    vacancies = pl.read_parquet(folder / VACANCIES_FILE)
    return (
        seekers.sample(min(sample[0], seekers.height), seed=seed),
        vacancies.sample(min(sample[1], vacancies.height), seed=seed),
    )


def tremplin_matches(settings: Settings, seekers: pl.DataFrame, vacancies: pl.DataFrame) -> pl.DataFrame:
    return score_matches(seekers, vacancies, **scoring_options(settings))


def naive_matches(settings: Settings, seekers: pl.DataFrame, vacancies: pl.DataFrame) -> pl.DataFrame:
    con = duckdb.connect()
    try:
        con.register("seekers", seekers.to_arrow())
        con.register("vacancies", vacancies.to_arrow())
        con.register("core", reference(settings).rome.core_items.to_arrow())
        con.register("mobility", reference(settings).rome.mobility.select(c.ROME_CODE, "target_rome_code").to_arrow())
        params = {
            "core_weight": 2.0,
            "required_weight": 2.0,
            "mobility_credit": 0.5,
            "w_skill": settings.weight_skill,
            "w_occupation": settings.weight_occupation,
            "w_distance": settings.weight_distance,
            "min_score": settings.min_score,
            "top_k": settings.top_k,
        }
        return con.sql(NAIVE_SQL, params=params).pl()
    finally:
        con.close()
