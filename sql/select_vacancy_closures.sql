-- select_vacancy_closures: vacancies whose feed gives a last open day, for the outbox to drop their offers
select vacancy_id, closes_on
from vacancies
where closes_on is not null
    and closes_on >= $since
order by vacancy_id
