"""``make demo``: generate a sample, run the real Airflow DAG on it, dispatch to the local SMS sink.

python -m tremplin.dev.demo --out var/demo --date 2026-11-23
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.reference import REAL_OFFERS_FILE, load_reference
from tremplin import clock
from tremplin.dev.airflow_runner import run_dag, settings_env
from tremplin.dev.demo_day import Day, play_day
from tremplin.dev.generate import generate
from tremplin.errors import TremplinError
from tremplin.nightly import summary
from tremplin.report import write_report
from tremplin.settings import PROJECT_ROOT, Settings
from tremplin.sms.dispatch import dispatch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "demo")
    parser.add_argument("--date", default="2026-11-23", help="run date (a Monday, so the SMS window is open)")
    parser.add_argument("--seekers", type=int, default=20_000)
    parser.add_argument("--vacancies", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except TremplinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)  # a demo starts from empty stores; re-runs of a night are shown by the tests
    # The local sink takes 100 messages a second; Twilio's rate is the sms_rate_per_second setting.
    settings = Settings.from_env(home=out, sms_rate_per_second=100.0)
    run_date = date.fromisoformat(args.date)
    # The night is replayed: what it stamps (run manifest, queue items, finished steps) reads 02:00 of the run
    # date, here and in Airflow's task processes, so the day played after it and its report line up on any day.
    night = datetime.combine(run_date, dt_time(2), tzinfo=ZoneInfo(settings.timezone))
    os.environ.update(clock.shift_to(night))
    timings: dict[str, float] = {}

    started = time.perf_counter()
    inbox_day = settings.inbox / run_date.isoformat()
    ref = load_reference(settings.data_dir)
    generated = generate(ref, seekers=args.seekers, vacancies=args.vacancies, seed=args.seed, out_dir=inbox_day)
    real = settings.data_dir / REAL_OFFERS_FILE
    if not real.is_file():
        raise TremplinError(f"{real}: the real France Travail offers are missing from the reference data")
    (inbox_day / "offres_france_travail_ardeche.jsonl").symlink_to(real)
    timings["generate"] = time.perf_counter() - started
    print(f"generated {args.seekers:,} seekers and {args.vacancies:,} vacancies into {inbox_day}", flush=True)

    step = time.perf_counter()
    log = run_dag(
        "nightly_matching",
        run_date.isoformat(),
        airflow_home=out / "airflow",
        extra_env=settings_env(settings),
    )
    timings["airflow nightly_matching"] = time.perf_counter() - step
    print(f"Airflow DAG nightly_matching ran for {run_date} (log: {log})", flush=True)

    step = time.perf_counter()
    moment = datetime.combine(run_date, datetime.min.time(), tzinfo=ZoneInfo(settings.timezone)).replace(hour=9)
    sent = dispatch(settings, now=moment)
    timings["dispatch"] = time.perf_counter() - step

    result = summary.collect(settings, run_date)  # what the night published, before anyone answers

    step = time.perf_counter()
    home_agency = _busiest_agency(settings)
    day = play_day(settings, moment.astimezone(UTC), home_agency=home_agency)
    transcript = [*day.transcript, _day_line(day)]
    timings["the day: callbacks, replies, calls"] = time.perf_counter() - step
    agency = demo_accounts(settings)
    step = time.perf_counter()
    assert day.ends_at is not None
    report = write_report(settings, run_date, as_of=day.ends_at)
    picture = _picture(report.html)
    timings["report"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    print()
    print(summary.render(result))
    print()
    print(
        f"Dispatch at {moment.isoformat()} (inside the send window) to the local SMS sink: "
        f"{sent['sent']:,} sent, {sent['failed']:,} failed, {sent['waiting']:,} waiting"
    )
    print()
    print("Replies, posted to `tremplin serve`'s webhooks with Twilio's signature (-> seeker, <- tremplin):")
    for line in transcript:
        print(f"  {line}")
    print()
    print(_report_lines(report.data))
    print()
    print("Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print()
    print("Outputs:")
    print(f"  inputs              {inbox_day}")
    print(f"  warehouse (DuckDB)  {settings.warehouse}")
    print(f"  operational store   {settings.opstore}")
    print(f"  SMS sink            {settings.sms_sink}")
    print(f"  Airflow home        {out / 'airflow'}")
    (out / "summary.json").write_text(
        json.dumps(
            {
                "summary": result,
                "dispatch": sent,
                "replies": transcript,
                "timings_s": timings,
                "generated": generated,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(f"  summary (JSON)      {out / 'summary.json'}")
    print(f"  run report (HTML)   {report.html}")
    print(f"  run report (JSON)   {report.json}")
    print(f"  run report (PNG)    {picture}")
    print()
    print(
        f"Counsellor pages: `make serve`, then http://127.0.0.1:8000 ; sign in as {DEMO_COUNSELLOR} "
        f"(or {DEMO_SUPERVISOR}, who also sees the agency's figures) with the password {DEMO_PASSWORD} "
        f"(demo accounts of agency {agency})."
    )
    return 0


DEMO_COUNSELLOR, DEMO_SUPERVISOR, DEMO_PASSWORD = "conseiller", "responsable", "demo-tremplin-2026"


def _busiest_agency(settings: Settings) -> str | None:
    """The agency with the most counsellor items: its seekers answer first, its demo accounts see a full page."""
    from connectors.opstore import OpStore
    from connectors.optables import counsellor_queue

    busiest = Counter(r["agency_id"] for r in OpStore(settings.opstore).table_rows(counsellor_queue)).most_common(1)
    return str(busiest[0][0]) if busiest else None


def _day_line(day: Day) -> str:
    return (
        f"the day: {sum(day.callbacks.values()):,} status callbacks ({dict(day.callbacks)}), "
        f"{sum(day.replies.values()):,} inbound SMS ({dict(day.replies)}), counsellors' actions {dict(day.actions)}"
    )


def _picture(html: Path) -> Path | str:
    """The report rendered by headless chromium, when ``make browser`` installed it."""
    from tremplin.report.screenshot import screenshot

    png = html.with_suffix(".png")
    try:
        screenshot(html, png)
    except TremplinError as exc:
        return f"(not rendered: {exc})"
    return png


def _report_lines(data: dict[str, Any]) -> str:
    """What the run report shows first: the funnel, the delays, the cost and what to look at."""
    f, cost = data["funnel"], data["sms_cost"]
    lines = ["Run report (the funnel of the day, as of " + data["generated_at"][:16] + " UTC):"]
    lines.append("  SMS path:        " + " > ".join(f"{label} {count:,}" for label, count in f["sms"]))
    lines.append("  counsellor path: " + " > ".join(f"{label} {count:,}" for label, count in f["counsellor"]))
    reply, called = f["reply_minutes"], f["contact_hours"]["interested"]
    lines.append(
        f"  reply: median {reply['p50']} min, p90 {reply['p90']} min ({reply['n']:,}); "
        f"OUI to call: median {called['p50']} h, p90 {called['p90']} h ({called['n']:,})"
    )
    price = f"{cost['segments']:,} segments x {cost['price_per_segment']} = {cost['cost']:,.2f} {cost['currency']}"
    lines.append(f"  SMS cost: {price}")
    lines.append(f"  to look at ({len(data['alerts'])}):")
    lines += [f"    - {alert}" for alert in data["alerts"]]
    return "\n".join(lines)


def demo_accounts(settings: Settings) -> str:
    """A counsellor and a supervisor of the agency whose seekers answered first (demo password)."""
    from connectors.opstore import OpStore
    from tremplin.review.accounts import create_user

    store = OpStore(settings.opstore)
    agency = _busiest_agency(settings) or "FT-00-000"
    now = datetime.now(UTC)
    for username, role, name in (
        (DEMO_COUNSELLOR, "counsellor", "Camille (conseillère, démo)"),
        (DEMO_SUPERVISOR, "supervisor", "Dominique (responsable, démo)"),
    ):
        create_user(
            store, username=username, password=DEMO_PASSWORD, agency_id=agency, role=role, display_name=name, now=now
        )
    return agency


if __name__ == "__main__":
    sys.exit(main())
