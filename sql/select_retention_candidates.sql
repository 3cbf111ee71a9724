-- select_retention_candidates: seekers whose profile has not changed since before the retention cutoff (the
-- retention job then drops those with recent activity or open work in the operational store)
with seekers as (
    select seeker_id, updated_at from seekers
),

final as (
    select seeker_id
    from seekers
    where updated_at < $cutoff
)

select * from final
order by seeker_id
