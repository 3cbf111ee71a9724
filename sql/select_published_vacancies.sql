-- select_published_vacancies: each vacancy offered tonight, by either channel, with what its copy shows
with routing as (
    select distinct vacancy_id from routing
    where run_date = $run_date and channel in ('sms', 'counsellor')
),

final as (
    select
        vacancies.vacancy_id, vacancies.title, vacancies.rome_code, vacancies.commune as vacancy_commune,
        vacancies.contract_type, vacancies.working_time, vacancies.positions,
        vacancies.source_file as vacancy_source
    from routing
    inner join vacancies using (vacancy_id)
)

select * from final
order by vacancy_id
