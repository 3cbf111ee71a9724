-- delete_matches: forget one night's matches before a re-run writes them again
delete from matches
where run_date = $run_date
