-- select_ingest_stats: rows read, loaded and quarantined per file for one night
select file, kind, rows_read, rows_loaded, rows_quarantined
from ingest_stats
where run_date = $run_date
order by kind, file
