-- delete_routing: forget one night's routing before a re-run writes it again
delete from routing
where run_date = $run_date
