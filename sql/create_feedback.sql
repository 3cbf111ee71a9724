-- feedback on offered matches, mirrored from the operational store by the feedback sync:
-- label 1 = OUI, put forward or hired; 0 = counsellor marked the match wrong or the seeker said NON
create table if not exists feedback (
    day date not null,
    seeker_id varchar not null,
    vacancy_id varchar not null,
    label integer not null,
    source varchar not null,
    primary key (day, seeker_id, vacancy_id)
)
