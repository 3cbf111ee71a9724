-- count_matches_per_vacancy: open vacancies of one night by the number of seekers matched to them
with open_vacancies as (
    select vacancy_id
    from vacancies
    where updated_at < $run_end
        and (closes_on is null or closes_on >= $run_date)
),

per_vacancy as (
    select vacancy_id, count(*) as matches
    from matches
    where run_date = $run_date
    group by vacancy_id
),

final as (
    select coalesce(per_vacancy.matches, 0) as matches, count(*) as vacancies
    from open_vacancies
    left join per_vacancy using (vacancy_id)
    group by 1
)

select * from final
order by matches
