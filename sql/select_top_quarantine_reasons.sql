-- select_top_quarantine_reasons: the most frequent reasons rows were quarantined on one night
select file, field, reason, count(*) as occurrences
from quarantine
where run_date = $run_date
group by file, field, reason
order by occurrences desc, file, field
limit 10
