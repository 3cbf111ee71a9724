-- delete_old_ingest_stats: per-file input counts of the nights whose run records go
delete from ingest_stats
where run_date < $manifests_before
