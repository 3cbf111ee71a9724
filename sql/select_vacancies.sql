-- select_vacancies: vacancies known on the run date and still open on it
select *
from vacancies
where updated_at < $run_end
    and (closes_on is null or closes_on >= $run_date)
order by vacancy_id
