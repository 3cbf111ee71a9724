-- select_seekers_to_normalize: one batch of the staged profiles to normalize (stage_seekers_to_normalize)
select seekers.seeker_id, seekers.occupations, seekers.skills, seekers.updated_at
from seekers
inner join seekers_to_normalize using (seeker_id)
order by seekers.seeker_id
limit $rows offset $skip
