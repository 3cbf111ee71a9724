-- insert_shortlists: one night's capped short list per vacancy
insert into shortlists
select $run_date::date as run_date, vacancy_id, rank, seeker_id, score
from staged_shortlists
