-- stage_seekers_to_normalize: the ids of profiles never normalized, or changed since they last were, numbered
-- in id order and fixed for this step, so that it can read them a batch at a time while it writes their codes
create or replace temp table seekers_to_normalize as
with seekers as (
    select seeker_id, updated_at from seekers
),

codes as (
    select seeker_id, profile_updated_at from seeker_codes
),

final as (
    select seekers.seeker_id, row_number() over (order by seekers.seeker_id) as n
    from seekers
    left join codes using (seeker_id)
    where codes.profile_updated_at is null or codes.profile_updated_at < seekers.updated_at
)

select * from final
