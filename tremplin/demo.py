"""``make demo``: generate a sample, run the real Airflow DAG on it, dispatch to the local SMS sink.

python -m tremplin.demo --out var/demo --date 2026-11-23
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import shutil
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.reference import REAL_OFFERS_FILE, load_reference
from tremplin import summary
from tremplin.airflow_runner import run_dag, settings_env
from tremplin.dispatch import dispatch
from tremplin.errors import TremplinError
from tremplin.generate import generate
from tremplin.settings import PROJECT_ROOT, Settings


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
    transcript = play_replies(settings)
    timings["replies over the webhooks"] = time.perf_counter() - step
    agency = demo_accounts(settings)
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
    print()
    print(
        f"Counsellor pages: `make serve`, then http://127.0.0.1:8000 ; sign in as {DEMO_COUNSELLOR} "
        f"(or {DEMO_SUPERVISOR}, who also sees the agency's figures) with the password {DEMO_PASSWORD} "
        f"(demo accounts of agency {agency})."
    )
    return 0


DEMO_COUNSELLOR, DEMO_SUPERVISOR, DEMO_PASSWORD = "conseiller", "responsable", "demo-tremplin-2026"


def demo_accounts(settings: Settings) -> str:
    """A counsellor and a supervisor of the agency of the seeker who answered OUI (demo password)."""
    from connectors.opstore import OpStore
    from connectors.optables import counsellor_queue
    from review.accounts import create_user

    store = OpStore(settings.opstore)
    interested = [r for r in store.table_rows(counsellor_queue) if r["queue"] == "interested"]
    agency = str((interested or store.table_rows(counsellor_queue))[0]["agency_id"])
    now = datetime.now(UTC)
    for username, role, name in (
        (DEMO_COUNSELLOR, "counsellor", "Camille (conseillère, démo)"),
        (DEMO_SUPERVISOR, "supervisor", "Dominique (responsable, démo)"),
    ):
        create_user(
            store, username=username, password=DEMO_PASSWORD, agency_id=agency, role=role, display_name=name, now=now
        )
    return agency


# Four seekers answer their offer: OUI and the screening, NON, two unclear answers, STOP.
CONVERSATIONS = (
    ("Oui merci !", "oui", "Oui", "non, pas le samedi"),
    ("non merci",),
    ("c'est ou exactement ?", "je sais pas"),
    ("STOP",),
)


def play_replies(settings: Settings) -> list[str]:
    """Serve the webhooks on a loopback port and post signed inbound SMS, as Twilio would; the transcript."""
    from connectors.fake_twilio import FakeTwilio
    from connectors.opstore import OpStore
    from connectors.optables import counsellor_queue, sms_outbox
    from tremplin.serve_process import free_port, serving_in_thread
    from tremplin.webhooks import INBOUND_PATH, create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = "demo-auth-token"  # the demo's stand-in for the Twilio auth token that signs webhooks
    served = dataclasses.replace(settings, twilio_auth_token=token, public_base_url=base)
    store = OpStore(settings.opstore)
    # seekers of the agency with the most counsellor items answer, so that its demo accounts see a full page
    busiest = Counter(r["agency_id"] for r in store.table_rows(counsellor_queue)).most_common(1)
    home_agency = busiest[0][0] if busiest else None
    outbox = store.table_rows(sms_outbox)
    # a phone several seekers share gets several offers (réf. 1, réf. 2): the demo plays one offer per phone
    offers_per_phone = Counter(r["to_number"] for r in outbox)
    sent = sorted(
        (r for r in outbox if r["status"] == "sent" and offers_per_phone[r["to_number"]] == 1),
        key=lambda r: (r["agency_id"] != home_agency, r["message_id"]),
    )
    lines: list[str] = []
    # The fake only plays Twilio's side here: it signs each inbound SMS with the token and posts it.
    with serving_in_thread(create_app(served), port=port), FakeTwilio(auth_token=token) as twilio:
        for message, bodies in zip(sent, CONVERSATIONS, strict=False):
            lines.append(f"seeker {message['seeker_id']} ({message['to_number']}) got: {message['body']}")
            for body in bodies:
                status, twiml = twilio.inbound(base + INBOUND_PATH, from_=message["to_number"], body=body)
                answer = twiml.split("<Message>")[1].split("</Message>")[0] if "<Message>" in twiml else ""
                lines.append(f"  -> {body}")
                lines.append(f"  <- {html.unescape(answer) or '(no answer)'}  [HTTP {status}]")
    queued = [r for r in store.table_rows(counsellor_queue) if r["queue"] == "interested"]
    lines.append(f"interested queue: {len(queued)} item(s); opted out: {len(store.suppressed_numbers())} number(s)")
    return lines


if __name__ == "__main__":
    sys.exit(main())
