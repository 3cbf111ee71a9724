-- pseudonymize_routing: the gone seekers' ids become this run's pseudonyms (staged_gone: seeker_id, pseudonym)
update routing
set seeker_id = staged_gone.pseudonym
from staged_gone
where routing.seeker_id = staged_gone.seeker_id
