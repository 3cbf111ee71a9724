-- finish_run_manifest: close the record of one night's run with its outputs
update run_manifest
set finished_at = $finished_at, outputs_json = $outputs_json
where run_date = $run_date
