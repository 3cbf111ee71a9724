-- delete_old_run_steps: which steps finished, for the nights whose run records go
delete from run_steps
where run_date < $manifests_before
