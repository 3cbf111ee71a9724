-- count_retention_rows: what the retention job would change in the warehouse: rows of the gone seekers
-- (staged_gone: seeker_id, pseudonym) per table, quarantine and run records older than their cutoffs
with gone as (
    select seeker_id from staged_gone
),

seekers as (
    select count(*) as n from seekers where seeker_id in (select seeker_id from gone)
),

seeker_codes as (
    select count(*) as n from seeker_codes where seeker_id in (select seeker_id from gone)
),

seeker_protected as (
    select count(*) as n from seeker_protected where seeker_id in (select seeker_id from gone)
),

matches as (
    select count(*) as n from matches where seeker_id in (select seeker_id from gone)
),

routing as (
    select count(*) as n from routing where seeker_id in (select seeker_id from gone)
),

feedback as (
    select count(*) as n from feedback where seeker_id in (select seeker_id from gone)
),

shortlists as (
    select count(*) as n from shortlists where seeker_id in (select seeker_id from gone)
),

quarantine as (
    select count(*) as n from quarantine where run_date < $quarantine_before
),

run_manifest as (
    select count(*) as n from run_manifest where run_date < $manifests_before
),

ingest_stats as (
    select count(*) as n from ingest_stats where run_date < $manifests_before
),

run_steps as (
    select count(*) as n from run_steps where run_date < $manifests_before
),

final as (
    select
        seekers.n as seekers,
        seeker_codes.n as seeker_codes,
        seeker_protected.n as seeker_protected,
        matches.n as matches,
        routing.n as routing,
        feedback.n as feedback,
        shortlists.n as shortlists,
        quarantine.n as quarantine,
        run_manifest.n as run_manifest,
        ingest_stats.n as ingest_stats,
        run_steps.n as run_steps
    from seekers, seeker_codes, seeker_protected, matches, routing, feedback, shortlists, quarantine,
        run_manifest, ingest_stats, run_steps
)

select * from final
