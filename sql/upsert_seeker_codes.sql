-- upsert_seeker_codes: a seeker's ROME sheets and items after normalization
insert into seeker_codes
select seeker_id, rome_codes, item_codes, unresolved, profile_updated_at
from staged_codes
on conflict (seeker_id) do update set
    rome_codes = excluded.rome_codes,
    item_codes = excluded.item_codes,
    unresolved = excluded.unresolved,
    profile_updated_at = excluded.profile_updated_at
