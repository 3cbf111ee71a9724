-- protected attributes live apart from profiles: only the fairness audit reads them
create table if not exists seeker_protected (
    seeker_id varchar primary key,
    gender varchar,
    birth_year integer,
    disability boolean,
    updated_at timestamptz not null
)
