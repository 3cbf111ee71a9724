-- delete_ingest_stats: forget one night's per-file counts before a re-run writes them again
delete from ingest_stats
where run_date = $run_date
