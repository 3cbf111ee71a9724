-- select_vacancies: vacancies known on the run date
select *
from vacancies
where updated_at < $run_end
order by vacancy_id
