-- insert_routing: one decision per matched seeker, with its reason code and tonight's vacancy
insert into routing
select $run_date::date as run_date, seeker_id, channel, reason, vacancy_id
from staged_routing
