-- upsert_seeker_protected: protected attributes, kept apart, newest wins
with staged as (
    select * from staged_seekers
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
