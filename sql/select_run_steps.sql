-- select_run_steps: the steps of one night that finished
select step, finished_at
from run_steps
where run_date = $run_date
order by finished_at
