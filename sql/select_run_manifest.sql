-- select_run_manifest: the record of one night's run
select *
from run_manifest
where run_date = $run_date
