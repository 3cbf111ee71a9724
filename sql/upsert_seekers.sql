-- upsert_seekers: load validated seekers; a row replaces the stored one only when it is newer
-- each batch holds one row per id already (the newest, the last line among equals): the newest of the
-- file is the newest over its batches, the later batch among equals
with staged as (
    select * exclude (batch)
    from file_seekers
    qualify row_number() over (partition by seeker_id order by updated_at desc, batch desc) = 1
),

final as (
    select
        seeker_id, mobile, commune, radius_km, occupations, skills, contract_types, working_time,
        driving_licence, experience_months, qualification_code, sms_consent, preferred_channel, agency_id, updated_at,
        $source_file as source_file
    from staged
)

insert into seekers
select * from final
on conflict (seeker_id) do update set
    mobile = excluded.mobile,
    commune = excluded.commune,
    radius_km = excluded.radius_km,
    occupations = excluded.occupations,
    skills = excluded.skills,
    contract_types = excluded.contract_types,
    working_time = excluded.working_time,
    driving_licence = excluded.driving_licence,
    experience_months = excluded.experience_months,
    qualification_code = excluded.qualification_code,
    sms_consent = excluded.sms_consent,
    preferred_channel = excluded.preferred_channel,
    agency_id = excluded.agency_id,
    updated_at = excluded.updated_at,
    source_file = excluded.source_file
where excluded.updated_at > seekers.updated_at
