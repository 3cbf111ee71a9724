-- insert_matches: one night's top-k matches per seeker with their explanation, read from the shards' Parquet
-- files by DuckDB itself (a France-scale night never sits in Python's memory)
insert into matches
select
    $run_date::date as run_date, seeker_id, vacancy_id, rank, score, skill_score, occupation_score,
    distance_score, distance_km, occupation_relation, matched_skills, missing_required_skills
from read_parquet($files)
order by seeker_id, rank
