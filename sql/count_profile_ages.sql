-- count_profile_ages: seekers by months since their profile was last updated, on the run date
with seekers as (
    select seeker_id, updated_at from seekers
    where updated_at < $run_end
),

aged as (
    select
        case
            when updated_at >= $run_end - interval 1 month then '< 1 mois'
            when updated_at >= $run_end - interval 3 month then '1 à 3 mois'
            when updated_at >= $run_end - interval 6 month then '3 à 6 mois'
            when updated_at >= $fresh_since then '6 mois et plus, encore retenus'
            else 'trop anciens, exclus'
        end as age_band,
        updated_at >= $fresh_since as matched_on
    from seekers
),

final as (
    select age_band, matched_on, count(*) as seekers
    from aged
    group by age_band, matched_on
)

select * from final
