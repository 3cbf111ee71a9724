-- count_night_matches: how many matches one night has, and for how many seekers
select count(*) as matches, count(distinct seeker_id) as matched_seekers
from matches
where run_date = $run_date
