-- pseudonymize_feedback: the gone seekers' ids become this run's pseudonyms (staged_gone: seeker_id, pseudonym)
update feedback
set seeker_id = staged_gone.pseudonym
from staged_gone
where feedback.seeker_id = staged_gone.seeker_id
