-- select_audit_seekers: the fairness audit's population, the seekers matched on one night's fresh
-- profiles, with their protected attributes (read here and nowhere else), best match and channel
with seekers as (
    select seeker_id, commune, agency_id
    from seekers
    where updated_at >= $fresh_since
        and updated_at < $run_end
),

protected as (
    select seeker_id, gender, birth_year, disability
    from seeker_protected
),

best as (
    select seeker_id, max(score) as best_score
    from matches
    where run_date = $run_date
    group by seeker_id
),

routed as (
    select seeker_id, channel, reason
    from routing
    where run_date = $run_date
),

final as (
    select
        seekers.seeker_id, seekers.commune, seekers.agency_id,
        protected.gender, protected.birth_year, protected.disability,
        best.best_score is not null as matched, best.best_score,
        routed.channel, routed.reason
    from seekers
    left join protected using (seeker_id)
    left join best using (seeker_id)
    left join routed using (seeker_id)
)

select * from final
order by seeker_id
