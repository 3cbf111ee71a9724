-- count_matches_per_seeker: how many seekers got 1, 2, ... matches on one night
with per_seeker as (
    select seeker_id, count(*) as matches
    from matches
    where run_date = $run_date
    group by seeker_id
),

final as (
    select matches, count(*) as seekers
    from per_seeker
    group by matches
)

select * from final
order by matches
