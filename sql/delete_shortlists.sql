-- delete_shortlists: forget one night's short lists before a re-run writes them again
delete from shortlists
where run_date = $run_date
