-- per vacancy, the best seekers among those who have it in their top-k, capped by its positions
create table if not exists shortlists (
    run_date date not null,
    vacancy_id varchar not null,
    rank integer not null,
    seeker_id varchar not null,
    score double not null,
    primary key (run_date, vacancy_id, seeker_id)
)
