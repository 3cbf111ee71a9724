-- count_offers_to_publish: how many offers the night routed to a channel (publish cuts them into parts)
select count(*) as offers
from routing
where run_date = $run_date and channel in ('sms', 'counsellor')
