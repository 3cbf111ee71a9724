-- delete_old_quarantine: rejected input lines (raw phones and names) of the nights before the cutoff
delete from quarantine
where run_date < $quarantine_before
