-- select_seekers_to_route: the night's matched seekers, only the columns the routing rules read
select seeker_id, mobile, commune, sms_consent, preferred_channel
from seekers
where seeker_id in (select seeker_id from matches where run_date = $run_date)
order by seeker_id
