-- select_offers_to_publish: tonight's offers with what the SMS and the counsellor need to see, part $part of
-- $parts: every offer to one phone number (or to one seeker without a mobile) falls in the same part
with routing as (
    select * from routing
    where run_date = $run_date and channel in ('sms', 'counsellor')
),

matches as (
    select * from matches
    where run_date = $run_date
),

final as (
    select
        routing.seeker_id, routing.vacancy_id, routing.channel, routing.reason,
        seekers.mobile, seekers.agency_id, seekers.commune as seeker_commune,
        vacancies.title, vacancies.commune as vacancy_commune, vacancies.contract_type,
        vacancies.working_time, vacancies.rome_code, vacancies.positions, vacancies.source_file as vacancy_source,
        matches.score, matches.skill_score, matches.occupation_score, matches.distance_score,
        matches.distance_km, matches.occupation_relation, matches.matched_skills,
        matches.missing_required_skills
    from routing
    inner join matches using (seeker_id, vacancy_id)
    inner join seekers using (seeker_id)
    inner join vacancies using (vacancy_id)
    where hash(coalesce(seekers.mobile, routing.seeker_id)) % cast($parts as ubigint) = $part
)

select * from final
order by seeker_id
