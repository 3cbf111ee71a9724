-- pseudonymize_shortlists: the gone seekers' ids become this run's pseudonyms (staged_gone: seeker_id, pseudonym)
update shortlists
set seeker_id = staged_gone.pseudonym
from staged_gone
where shortlists.seeker_id = staged_gone.seeker_id
