-- select_run_by_id: the night a run id belongs to
select run_date
from run_manifest
where run_id = $run_id
