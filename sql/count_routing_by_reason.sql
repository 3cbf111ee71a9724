-- count_routing_by_reason: seekers per channel and reason for one night
select channel, reason, count(*) as seekers
from routing
where run_date = $run_date
group by channel, reason
order by channel, seekers desc, reason
