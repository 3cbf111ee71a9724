-- select_active_seekers: profiles fresh enough to match on the run date, with their normalized codes
with seekers as (
    select * from seekers
),

codes as (
    select * from seeker_codes
),

final as (
    select
        seekers.seeker_id, seekers.mobile, seekers.commune, seekers.radius_km, seekers.contract_types,
        seekers.working_time, seekers.driving_licence, seekers.experience_months, seekers.qualification_code, seekers.sms_consent,
        seekers.preferred_channel, seekers.agency_id, codes.rome_codes, codes.item_codes
    from seekers
    inner join codes using (seeker_id)
    where seekers.updated_at >= $fresh_since
      and seekers.updated_at < $run_end
)

select * from final
order by seeker_id
