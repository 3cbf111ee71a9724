-- count_stale_seekers: profiles left out of matching because they were not updated for too long
select count(*) as stale
from seekers
where updated_at < $fresh_since
