-- select_seeker: one seeker's profile (no protected attribute) and normalized codes
select seekers.*, seeker_codes.rome_codes, seeker_codes.item_codes, seeker_codes.unresolved
from seekers
left join seeker_codes using (seeker_id)
where seekers.seeker_id = $seeker_id
