"""The ``tremplin`` command line."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from tremplin import clock
from tremplin.errors import TremplinError
from tremplin.settings import Settings

app = typer.Typer(
    help="tremplin: nightly job matching, SMS offers and counsellor queues.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Reference data directory (TREMPLIN_DATA_DIR).")]
Home = Annotated[Path | None, typer.Option("--home", help="Where the stores and the inbox live (TREMPLIN_HOME).")]
RunDate = Annotated[str, typer.Option("--date", help="Run date YYYY-MM-DD: the night whose inputs are read.")]


def _settings(data_dir: Path | None, home: Path | None, **extra: Any) -> Settings:
    return Settings.from_env(data_dir=data_dir, home=home, **extra)


def _fail(exc: TremplinError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Directory to write seekers.* and vacancies.* into.")],
    seekers: Annotated[int, typer.Option(help="Number of job seekers.")] = 20_000,
    vacancies: Annotated[int, typer.Option(help="Number of vacancies.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or jsonl.")] = "csv",
    data_dir: DataDir = None,
) -> None:
    """Write realistic, deterministic seekers and vacancies (fiction-range phone numbers only)."""
    from connectors.reference import load_reference
    from tremplin.dev.generate import generate as run_generate

    try:
        ref = load_reference(_settings(data_dir, None).data_dir)
        with typer.progressbar(length=seekers + vacancies, label="generating") as bar:
            result = run_generate(
                ref,
                seekers=seekers,
                vacancies=vacancies,
                seed=seed,
                out_dir=out,
                fmt=fmt,
                progress=bar.update,
            )
    except TremplinError as exc:
        _fail(exc)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
def nightly(
    run_date: RunDate,
    data_dir: DataDir = None,
    home: Home = None,
    inbox: Annotated[Path | None, typer.Option(help="Inbox directory; inputs are read from INBOX/DATE/.")] = None,
    airflow: Annotated[bool, typer.Option(help="Run through the real Airflow DAG (airflow dags test).")] = False,
) -> None:
    """Run the nightly pipeline for one date: ingest, normalize, score, route, publish, summary."""
    from tremplin.nightly import summary, tasks

    try:
        settings = _settings(data_dir, home, inbox_path=inbox)
        day = date.fromisoformat(run_date)
        if airflow:
            from tremplin.dev.airflow_runner import run_dag, settings_env

            run_dag(
                "nightly_matching",
                run_date,
                airflow_home=settings.home / "airflow",
                extra_env=settings_env(settings),
            )
        else:
            with typer.progressbar(tasks.STEPS, label="nightly") as steps:
                for step in steps:
                    tasks.record_step(settings, day, step, tasks.STEPS[step](settings, day))
        typer.echo(summary.render(summary.collect(settings, day)))
    except TremplinError as exc:
        _fail(exc)


@app.command()
def dispatch(
    data_dir: DataDir = None,
    home: Home = None,
    now: Annotated[str | None, typer.Option(help="Send as if it were this moment (ISO, with offset).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many messages.")] = None,
) -> None:
    """Send the SMS outbox within the send window, at the configured rate."""

    from tremplin.sms.dispatch import dispatch as run_dispatch

    try:
        moment = datetime.fromisoformat(now) if now else clock.now()
        if moment.tzinfo is None:
            raise TremplinError(f"--now {now!r} needs a UTC offset, e.g. 2026-11-23T09:00:00+01:00")
        result = run_dispatch(_settings(data_dir, home), now=moment, limit=limit)
    except TremplinError as exc:
        _fail(exc)
    typer.echo(json.dumps(result, indent=2))


@app.command()
def serve(
    data_dir: DataDir = None,
    home: Home = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the counsellor pages and, when TREMPLIN_TWILIO_AUTH_TOKEN is set, the Twilio webhooks
    (/twilio/status, /twilio/inbound). Reads the operational store only, never the warehouse."""
    import uvicorn

    from tremplin.app import create_app

    try:
        application = create_app(_settings(data_dir, home))
    except TremplinError as exc:
        _fail(exc)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


users_app = typer.Typer(help="Counsellor and supervisor accounts of the web pages.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Sign-in name, one word.")],
    agency: Annotated[str, typer.Option(help="The agency whose seekers the account sees, e.g. FT-07-001.")],
    role: Annotated[
        str, typer.Option(help="counsellor, or supervisor (also sees the agency's figures).")
    ] = "counsellor",
    name: Annotated[str | None, typer.Option(help="Name shown to colleagues.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    home: Home = None,
) -> None:
    """Create an account (password hashed with argon2id; at least 12 characters)."""

    from connectors.opstore import OpStore
    from tremplin.review.accounts import create_user

    try:
        store = OpStore(_settings(None, home).opstore)
        user = create_user(
            store,
            username=username,
            password=_password(password_stdin),
            agency_id=agency,
            role=role,
            display_name=name,
            now=clock.now(),
        )
    except TremplinError as exc:
        _fail(exc)
    typer.echo(f"created {user.role} {user.username} ({user.display_name}) of agency {user.agency_id}")


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    home: Home = None,
) -> None:
    """Set a new password; the account's open sessions are closed."""
    from connectors.opstore import OpStore
    from tremplin.review.accounts import set_password

    try:
        set_password(OpStore(_settings(None, home).opstore), username, _password(password_stdin))
    except TremplinError as exc:
        _fail(exc)
    typer.echo(f"password of {username} changed")


@users_app.command("list")
def users_list(home: Home = None) -> None:
    """The accounts, by agency."""
    from connectors.opstore import OpStore
    from tremplin.review.accounts import list_users

    for user in list_users(OpStore(_settings(None, home).opstore)):
        typer.echo(f"{user.agency_id}\t{user.username}\t{user.role}\t{user.display_name}")


@app.command()
def report(
    run: Annotated[str, typer.Option("--run", help="Run id (from the manifest) or run date YYYY-MM-DD.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the report (TREMPLIN_REPORTS_PATH).")] = None,
    data_dir: DataDir = None,
    home: Home = None,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the report's JSON.")] = False,
    png: Annotated[Path | None, typer.Option("--png", help="Also render the page to this PNG (chromium).")] = None,
) -> None:
    """Write the night's run report: an HTML page with charts and a JSON file beside it.

    Exits with 1 when the night is incomplete (the report, written all the same, names the missing steps).
    """
    from tremplin.report import write_report
    from tremplin.report.collect import resolve_run

    try:
        settings = _settings(data_dir, home)
        written = write_report(settings, resolve_run(settings, run), as_of=clock.now(), out_dir=out)
        if png:
            from tremplin.report.screenshot import screenshot

            screenshot(written.html, png)
    except TremplinError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(written.data, indent=2, default=str))
    else:
        typer.echo(f"report: {written.html}\nfigures: {written.json}" + (f"\npicture: {png}" if png else ""))
        for alert in written.data["alerts"]:
            typer.secho(f"! {alert}", fg=typer.colors.YELLOW, err=True)
    if written.missing_steps:
        raise typer.Exit(1)


@app.command()
def explain(
    seeker: Annotated[str, typer.Option("--seeker", help="Seeker id.")],
    run: Annotated[str | None, typer.Option("--run", help="Run date YYYY-MM-DD (default: the last night).")] = None,
    data_dir: DataDir = None,
    home: Home = None,
) -> None:
    """Why these offers: the seeker's data, the weights, and each match of a night with its score
    components, matched and missing skills, distance (an access request's answer, CRPA L311-3-1)."""
    from tremplin.ops.explain import explain_seeker, latest_night

    try:
        settings = _settings(data_dir, home)
        night = date.fromisoformat(run) if run else latest_night(settings, seeker)
        typer.echo(explain_seeker(settings, seeker, night))
    except TremplinError as exc:
        _fail(exc)


@app.command()
def normalize(
    taxonomy: Annotated[Path, typer.Option(help="TSV: concept_id<TAB>label, many labels per concept allowed.")],
    queries: Annotated[Path, typer.Option(help="TSV: query_id<TAB>text.")],
    out: Annotated[Path, typer.Option(help="TSV written: query_id<TAB>rank<TAB>concept_id<TAB>score.")],
    top: Annotated[int, typer.Option(help="At most this many concepts per query.")] = 5,
    encoder: Annotated[
        str,
        typer.Option(
            help="Sentence encoder added to the lexical signals: 'none', or 'use' (multilingual Universal "
            "Sentence Encoder v3, installed with the package; about 100 texts a second)."
        ),
    ] = "none",
) -> None:
    """Map free-text queries to the concepts of any taxonomy."""
    from matching.normalize import TaxonomyIndex
    from tremplin.nightly.encoder import title_encoder
    from tremplin.settings import TITLE_ENCODERS

    if encoder not in TITLE_ENCODERS:
        _fail(TremplinError(f"--encoder must be one of {', '.join(TITLE_ENCODERS)}, got {encoder!r}"))

    def read(path: Path, names: list[str]) -> pl.DataFrame:
        try:
            return pl.read_csv(
                path,
                separator="\t",
                has_header=False,
                new_columns=names,
                quote_char=None,
                schema_overrides={n: pl.String for n in names},
            )
        except Exception as exc:
            raise TremplinError(f"{path}: not a 2-column TSV file ({exc})") from exc

    try:
        index = TaxonomyIndex.build(read(taxonomy, ["concept_id", "label"]), embed=title_encoder(encoder))
        result = index.search(read(queries, ["query_id", "text"]), k=top)
    except TremplinError as exc:
        _fail(exc)
    result.write_csv(out, separator="\t", include_header=False, float_precision=4)
    typer.echo(f"{result.height} rows written to {out}")


@app.command()
def bench(
    out: Annotated[Path, typer.Option(help="JSON file for the figures.")] = Path("bench/results.json"),
    seekers: Annotated[int, typer.Option(help="Number of job seekers.")] = 20_000,
    vacancies: Annotated[int, typer.Option(help="Number of vacancies.")] = 5_000,
    quality: Annotated[
        bool,
        typer.Option(
            "--quality",
            help="Measure match relevance (nDCG@10, recall@10) against two baselines, and title normalization "
            "(accuracy@1, MRR) on held-out ROME synonyms.",
        ),
    ] = False,
    sms: Annotated[
        bool,
        typer.Option(
            "--sms",
            help="Measure SMS sending throughput through the twilio client against a loopback fake Twilio "
            "(10,000 messages at 100/s), and the OUI-to-counsellor-queue latency of a real `tremplin serve`.",
        ),
    ] = False,
    review: Annotated[
        bool,
        typer.Option(
            "--review",
            help="Measure the counsellor queue page of a real `tremplin serve` on a store of 100,000 queue "
            "items: server and client time (p50, p95, max) of a mix of queue pages, against a 200 ms p95 target.",
        ),
    ] = False,
    airflow: Annotated[
        bool,
        typer.Option(
            "--airflow",
            help="Run one night of --seekers x --vacancies through Airflow (scheduler, LocalExecutor with 2 "
            "workers, metadata on a throwaway PostgreSQL server, else SQLite) and in one process: wall time per run "
            "and per task, peak memory, speed ratio.",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Time each nightly step on generated data and record wall time and peak memory (or, with --quality,
    the relevance of the matches; with --sms, SMS throughput and OUI latency; with --review, the queue
    page's server time; with --airflow, the night through Airflow against the same night in one process)."""
    from tremplin.bench.nightly import run_bench

    try:
        settings = _settings(data_dir, None)
        if sms:
            from tremplin.bench.sms import run_sms_bench

            result = run_sms_bench(out, log=lambda message: typer.echo(message, err=True))
        elif review:
            from tremplin.bench.review import run as run_review_bench

            result = run_review_bench(
                out, data_dir=settings.data_dir, log=lambda message: typer.echo(message, err=True)
            )
        elif airflow:
            from tremplin.bench.airflow import run_airflow_bench

            result = run_airflow_bench(
                settings.data_dir,
                seekers=seekers,
                vacancies=vacancies,
                out=out,
                log=lambda message: typer.echo(message, err=True),
            )
        elif quality:
            from connectors.reference import load_reference
            from tremplin.bench.nightly import merge_results
            from tremplin.bench.normalize_quality import normalization_benchmark
            from tremplin.bench.quality import quality_benchmark

            result = quality_benchmark(load_reference(settings.data_dir), settings.data_dir)
            merge_results(out, ("quality",), result)
            merge_results(out, ("normalization",), normalization_benchmark(settings.data_dir))
        else:
            result = run_bench(settings, seekers=seekers, vacancies=vacancies, out=out)
    except TremplinError as exc:
        _fail(exc)
    typer.echo(json.dumps(result, indent=2))


@app.command()
def retention(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Apply retention as of this day YYYY-MM-DD (default: today, UTC).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    data_dir: DataDir = None,
    home: Home = None,
) -> None:
    """Remove the personal data of seekers gone longer than seeker_retention_days (what the KPIs keep is
    pseudonymized), and quarantine, audit events and run manifests past their periods (docs/register.md)."""
    from tremplin.ops.retention import render
    from tremplin.ops.retention import run as run_retention

    today = clock.now().date()
    try:
        day = date.fromisoformat(as_of) if as_of else today
    except ValueError:
        _fail(TremplinError(f"--as-of {as_of!r} is not a date YYYY-MM-DD"))
    try:
        if day > today:
            raise TremplinError(f"--as-of {as_of} is after today ({today}): retention never runs ahead of time")
        result = run_retention(_settings(data_dir, home), day, dry_run=dry_run)
    except TremplinError as exc:
        _fail(exc)
    typer.echo(json.dumps(result, indent=2) if as_json else render(result))


Only = Annotated[
    list[str] | None,
    typer.Option("--only", metavar="PART", help="warehouse or opstore (repeatable); default: both stores."),
]


@app.command()
def backup(
    to: Annotated[Path, typer.Option("--to", help="A new, empty folder for the backup.")],
    only: Only = None,
    home: Home = None,
) -> None:
    """Back up the warehouse (DuckDB EXPORT DATABASE to Parquet) and the operational store (SQLite online backup,
    or pg_dump) with a manifest of sizes and SHA-256. Run it outside the nightly window: the warehouse must have
    no writer."""
    from tremplin.ops.backup import PARTS
    from tremplin.ops.backup import backup as run_backup

    try:
        manifest = run_backup(_settings(None, home), to, now=clock.now(), parts=only or PARTS)
    except TremplinError as exc:
        _fail(exc)
    for part in ("warehouse", "opstore"):
        if part in manifest:
            rows = sum(manifest[part]["tables"].values())
            typer.echo(f"{part}: {manifest[part]['source']}, {len(manifest[part]['tables'])} tables, {rows:,} rows")
    size = sum(f["bytes"] for f in manifest["files"].values())
    typer.echo(f"backup: {to} ({len(manifest['files'])} files, {size:,} bytes, manifest.json)")


@app.command()
def restore(
    source: Annotated[Path, typer.Option("--from", help="A backup folder written by `tremplin backup`.")],
    only: Only = None,
    home: Home = None,
) -> None:
    """Restore a backup into the configured warehouse path and operational store URL, which must be new (no
    warehouse file; no SQLite file, or an empty PostgreSQL database). Checks every file's SHA-256 first and every
    table's rows after; SMS still waiting are looked up at the provider by the next dispatch before any is sent."""
    from tremplin.ops.backup import PARTS
    from tremplin.ops.backup import restore as run_restore

    try:
        restored = run_restore(_settings(None, home), source, parts=only or PARTS)
    except TremplinError as exc:
        _fail(exc)
    for part, where in (("warehouse", "path"), ("opstore", "url")):
        if part in restored:
            rows = sum(restored[part]["tables"].values())
            typer.echo(f"{part}: {restored[part][where]}, {len(restored[part]['tables'])} tables, {rows:,} rows")
    if held := restored.get("opstore", {}).get("sms_held_for_lookup"):
        typer.echo(f"{held:,} waiting SMS marked for a provider lookup before the next dispatch sends them")
    typer.echo(f"restored from {source} (backup of {restored['created_at']})")


def main() -> None:  # pragma: no cover
    sys.exit(app())
