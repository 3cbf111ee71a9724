-- select_matches_to_route: one night's matches, only the columns routing and short lists read (no skill lists)
select seeker_id, vacancy_id, rank, score, skill_score, occupation_score, distance_score
from matches
where run_date = $run_date
order by seeker_id, rank
