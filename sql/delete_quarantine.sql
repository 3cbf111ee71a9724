-- delete_quarantine: forget one night's quarantine before it is written again (re-runs)
delete from quarantine
where run_date = $run_date
