-- upsert_feedback: events mirrored from the operational store (a later event on the same offer replaces it)
insert into feedback
select day, seeker_id, vacancy_id, label, source
from staged_feedback
on conflict (day, seeker_id, vacancy_id) do update set
    label = excluded.label,
    source = excluded.source
