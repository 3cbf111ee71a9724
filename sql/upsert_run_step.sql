-- upsert_run_step: record that one step of a night finished (a re-run moves its time forward)
insert into run_steps
values ($run_date, $step, $finished_at, $result_json)
on conflict (run_date, step) do update set
    finished_at = excluded.finished_at,
    result_json = excluded.result_json
