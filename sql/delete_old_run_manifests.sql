-- delete_old_run_manifests: run records of the nights before the cutoff (kept at least six months)
delete from run_manifest
where run_date < $manifests_before
