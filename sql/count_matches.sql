-- count_matches: matches and matched seekers and vacancies for one night
select count(*) as matches, count(distinct seeker_id) as seekers, count(distinct vacancy_id) as vacancies
from matches
where run_date = $run_date
