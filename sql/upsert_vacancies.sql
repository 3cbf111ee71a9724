-- upsert_vacancies: load validated vacancies; a row replaces the stored one only when it is newer
-- each batch holds one row per id already (the newest, the last line among equals): the newest of the
-- file is the newest over its batches, the later batch among equals
with staged as (
    select * exclude (batch)
    from file_vacancies
    qualify row_number() over (partition by vacancy_id order by updated_at desc, batch desc) = 1
),

final as (
    select
        vacancy_id, title, rome_code, commune, latitude, longitude, contract_type, working_time,
        skill_codes, required_skill_codes, licence_required, experience_required_months,
        qualification_code, positions, updated_at, closes_on,
        $source_file as source_file
    from staged
)

insert into vacancies
select * from final
on conflict (vacancy_id) do update set
    title = excluded.title,
    rome_code = excluded.rome_code,
    commune = excluded.commune,
    latitude = excluded.latitude,
    longitude = excluded.longitude,
    contract_type = excluded.contract_type,
    working_time = excluded.working_time,
    skill_codes = excluded.skill_codes,
    required_skill_codes = excluded.required_skill_codes,
    licence_required = excluded.licence_required,
    experience_required_months = excluded.experience_required_months,
    qualification_code = excluded.qualification_code,
    positions = excluded.positions,
    updated_at = excluded.updated_at,
    closes_on = excluded.closes_on,
    source_file = excluded.source_file
where excluded.updated_at > vacancies.updated_at
