create table if not exists matches (
    run_date date not null,
    seeker_id varchar not null,
    vacancy_id varchar not null,
    rank integer not null,
    score double not null,
    skill_score double not null,
    occupation_score double not null,
    distance_score double not null,
    distance_km double not null,
    occupation_relation varchar not null,
    matched_skills varchar[] not null,
    missing_required_skills varchar[] not null,
    primary key (run_date, seeker_id, vacancy_id)
)
