-- select_feedback_examples: feedback before the run date with the score components of the offered match
with feedback as (
    select * from feedback
    where day < $run_date
),

matches as (
    select run_date, seeker_id, vacancy_id, skill_score, occupation_score, distance_score from matches
),

final as (
    select
        feedback.day, feedback.seeker_id, feedback.vacancy_id, matches.skill_score, matches.occupation_score,
        matches.distance_score, feedback.label
    from feedback
    inner join matches
        on matches.run_date = feedback.day
        and matches.seeker_id = feedback.seeker_id
        and matches.vacancy_id = feedback.vacancy_id
)

select * from final
order by day, seeker_id, vacancy_id
