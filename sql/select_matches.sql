-- select_matches: one night's matches
select *
from matches
where run_date = $run_date
order by seeker_id, rank
