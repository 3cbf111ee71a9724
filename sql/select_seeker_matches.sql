-- select_seeker_matches: one seeker's matches for one night, with the vacancy and the routing decision
with matches as (
    select * from matches
    where run_date = $run_date and seeker_id = $seeker_id
),

routing as (
    select * from routing
    where run_date = $run_date and seeker_id = $seeker_id
),

final as (
    select
        matches.*, vacancies.title, vacancies.commune as vacancy_commune, vacancies.contract_type,
        vacancies.working_time, routing.channel, routing.reason,
        routing.vacancy_id = matches.vacancy_id as offered_tonight
    from matches
    inner join vacancies using (vacancy_id)
    left join routing using (seeker_id)
)

select * from final
order by rank
