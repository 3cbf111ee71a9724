-- update_run_manifest_inputs: the night's input files with their fingerprints and row counts
update run_manifest
set inputs_json = $inputs_json
where run_date = $run_date
