create table if not exists quarantine (
    run_date date not null,
    file varchar not null,
    line bigint not null,
    field varchar not null,
    reason varchar not null,
    raw varchar,
    primary key (run_date, file, line, field)
)
