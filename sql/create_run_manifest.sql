-- AI Act record of every run: what code, settings, taxonomy and inputs produced which outputs
create table if not exists run_manifest (
    run_date date primary key,
    run_id varchar not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    code_version varchar not null,
    settings_hash varchar not null,
    settings_json varchar not null,
    taxonomy_version varchar not null,
    inputs_json varchar not null,
    outputs_json varchar,
    model_json varchar
)
