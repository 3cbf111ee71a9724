-- select_published_seekers: each seeker offered a vacancy tonight, with the profile the matching used
-- (no protected attribute: those live in seeker_protected) and the night's channel and reason; part $part of $parts
with routing as (
    select * from routing
    where run_date = $run_date and channel in ('sms', 'counsellor')
),

matches as (
    select seeker_id, vacancy_id from matches
    where run_date = $run_date
),

seekers as (
    select * from seekers
),

codes as (
    select * from seeker_codes
),

offered as (
    select routing.seeker_id, routing.channel, routing.reason
    from routing
    inner join matches using (seeker_id, vacancy_id)
    where hash(routing.seeker_id) % cast($parts as ubigint) = $part
),

final as (
    select
        offered.seeker_id, seekers.agency_id, seekers.mobile, seekers.commune, seekers.radius_km,
        seekers.contract_types, seekers.working_time, seekers.driving_licence, seekers.experience_months,
        seekers.qualification_code, seekers.sms_consent, seekers.preferred_channel, seekers.updated_at,
        codes.rome_codes, codes.item_codes, offered.channel, offered.reason
    from offered
    inner join seekers using (seeker_id)
    left join codes using (seeker_id)
)

select * from final
order by seeker_id
