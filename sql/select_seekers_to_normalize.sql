-- select_seekers_to_normalize: profiles never normalized, or changed since they last were
with seekers as (
    select seeker_id, occupations, skills, updated_at from seekers
),

codes as (
    select seeker_id, profile_updated_at from seeker_codes
),

final as (
    select seekers.*
    from seekers
    left join codes using (seeker_id)
    where codes.profile_updated_at is null or codes.profile_updated_at < seekers.updated_at
)

select * from final
order by seeker_id
