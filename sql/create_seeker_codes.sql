-- a seeker's desired ROME sheets and ROME items after normalization of free text
create table if not exists seeker_codes (
    seeker_id varchar primary key,
    rome_codes varchar[] not null,
    item_codes varchar[] not null,
    unresolved varchar[] not null,
    profile_updated_at timestamptz not null
)
