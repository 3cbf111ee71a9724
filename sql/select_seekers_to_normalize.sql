-- select_seekers_to_normalize: the staged profiles numbered $skip + 1 to $skip + $rows (stage_seekers_to_normalize):
-- only these rows are joined and sorted, whatever the number of profiles
with batch as (
    select seeker_id
    from seekers_to_normalize
    where n > $skip and n <= $skip + $rows
)

select seekers.seeker_id, seekers.occupations, seekers.skills, seekers.updated_at
from seekers
inner join batch using (seeker_id)
order by seekers.seeker_id
