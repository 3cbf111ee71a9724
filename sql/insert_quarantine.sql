-- insert_quarantine: keep every bad row with its file, line, field and reason
with staged as (
    select * from staged_quarantine
),

final as (
    select $run_date::date as run_date, file, line, field, reason, raw
    from staged
)

insert into quarantine
select * from final
on conflict do nothing
