create table if not exists vacancies (
    vacancy_id varchar primary key,
    title varchar not null,
    rome_code varchar not null,
    commune varchar not null,
    latitude double not null,
    longitude double not null,
    contract_type varchar not null,
    working_time varchar not null,
    skill_codes varchar[] not null,
    required_skill_codes varchar[] not null,
    licence_required boolean not null,
    experience_required_months integer not null,
    qualification_code varchar,
    positions integer not null,
    updated_at timestamptz not null,
    closes_on date,
    source_file varchar not null
)
