-- pseudonymize_matches: the gone seekers' ids become this run's pseudonyms (staged_gone: seeker_id, pseudonym)
update matches
set seeker_id = staged_gone.pseudonym
from staged_gone
where matches.seeker_id = staged_gone.seeker_id
