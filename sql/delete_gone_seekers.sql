-- delete_gone_seekers: the profiles of the seekers the retention job found gone (staged_gone)
delete from seekers
where seeker_id in (select seeker_id from staged_gone)
