-- upsert_run_manifest: open (or reopen, on a re-run) the record of one night's run
insert into run_manifest
values ($run_date, $run_id, $started_at, null, $code_version, $settings_hash, $settings_json,
        $taxonomy_version, $inputs_json, null, null)
on conflict (run_date) do update set
    run_id = excluded.run_id,
    started_at = excluded.started_at,
    finished_at = null,
    code_version = excluded.code_version,
    settings_hash = excluded.settings_hash,
    settings_json = excluded.settings_json,
    taxonomy_version = excluded.taxonomy_version,
    inputs_json = excluded.inputs_json,
    outputs_json = null,
    model_json = null
