-- upsert_ingest_stats: rows read, loaded and quarantined per file and night
insert into ingest_stats
values ($run_date, $file, $kind, $rows_read, $rows_loaded, $rows_quarantined, $fingerprint)
on conflict (run_date, file) do update set
    kind = excluded.kind,
    rows_read = excluded.rows_read,
    rows_loaded = excluded.rows_loaded,
    rows_quarantined = excluded.rows_quarantined,
    fingerprint = excluded.fingerprint
