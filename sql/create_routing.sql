-- one decision per seeker with at least one match, each with its reason code
create table if not exists routing (
    run_date date not null,
    seeker_id varchar not null,
    channel varchar not null,
    reason varchar not null,
    vacancy_id varchar,
    primary key (run_date, seeker_id)
)
