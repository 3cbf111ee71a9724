create table if not exists seekers (
    seeker_id varchar primary key,
    mobile varchar,
    commune varchar not null,
    radius_km double not null,
    occupations varchar[] not null,
    skills varchar[] not null,
    contract_types varchar[] not null,
    working_time varchar not null,
    driving_licence boolean not null,
    experience_months integer not null,
    qualification_code varchar,
    sms_consent boolean not null,
    preferred_channel varchar not null,
    agency_id varchar not null,
    updated_at timestamptz not null,
    source_file varchar not null
)
