create table if not exists ingest_stats (
    run_date date not null,
    file varchar not null,
    kind varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    fingerprint varchar not null,
    primary key (run_date, file)
)
