-- which steps of a night finished, and when: the run report names the ones that are missing
create table if not exists run_steps (
    run_date date not null,
    step varchar not null,
    finished_at timestamptz not null,
    result_json varchar not null,
    primary key (run_date, step)
)
