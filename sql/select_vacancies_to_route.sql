-- select_vacancies_to_route: the positions of the vacancies in the night's matches (their caps)
select vacancy_id, positions
from vacancies
where vacancy_id in (select vacancy_id from matches where run_date = $run_date)
order by vacancy_id
