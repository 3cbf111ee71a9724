-- select_latest_night: the last night that matched this seeker, else the last night that matched anyone
with seeker_nights as (
    select max(run_date) as run_date from matches
    where seeker_id = $seeker_id
),

any_night as (
    select max(run_date) as run_date from matches
),

final as (
    select coalesce(seeker_nights.run_date, any_night.run_date) as run_date
    from seeker_nights, any_night
)

select * from final
