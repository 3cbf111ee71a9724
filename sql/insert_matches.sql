-- insert_matches: one night's top-k matches per seeker with their explanation
insert into matches
select
    $run_date::date as run_date, seeker_id, vacancy_id, rank, score, skill_score, occupation_score,
    distance_score, distance_km, occupation_relation, matched_skills, missing_required_skills
from staged_matches
