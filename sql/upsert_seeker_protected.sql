-- upsert_seeker_protected: protected attributes, kept apart, newest wins
-- each batch holds one row per id already (the newest, the last line among equals): the newest of the
-- file is the newest over its batches, the later batch among equals
with staged as (
    select * exclude (batch)
    from file_seekers
    qualify row_number() over (partition by seeker_id order by updated_at desc, batch desc) = 1
),

final as (
    select seeker_id, gender, birth_year, disability, updated_at
    from staged
)

insert into seeker_protected
select * from final
on conflict (seeker_id) do update set
    gender = excluded.gender,
    birth_year = excluded.birth_year,
    disability = excluded.disability,
    updated_at = excluded.updated_at
where excluded.updated_at > seeker_protected.updated_at
