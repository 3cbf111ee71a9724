-- delete_gone_seeker_codes: the normalized occupations and skills of the gone seekers (staged_gone)
delete from seeker_codes
where seeker_id in (select seeker_id from staged_gone)
