-- update_run_manifest_model: record which ranking model the night used, with its version and metrics
update run_manifest
set model_json = $model_json
where run_date = $run_date
