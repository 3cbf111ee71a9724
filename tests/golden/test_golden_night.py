"""One golden night: a small fixed input, run whole, its results compared exactly with committed files.

The input is ``tests/golden/inbox/2026-11-23/``: 44 seeker rows and 14 flat vacancy rows in CSV, and 3 France
Travail offers (real Ardèche offers, trimmed to the fields the reader uses), all in Ardèche and around it,
with the cases a night must get right written in: no mobile, no SMS consent, a declared preference, rural
communes, each veto (contract, working time, licence, experience, qualification), a closed vacancy, one far
away, a stale profile, a repeated id, two seekers sharing a phone, and bad rows for the quarantine.

The night runs in this process (``tasks.run_night``, every step) with the clock pinned to 02:00 in Paris
after the run date, on the operational store of each backend (SQLite, and PostgreSQL when the test server
is there): both must give the files of ``tests/golden/expected/``, row for row:

- ``matches.csv``: seeker, vacancy, rank, score (6 decimals), distance (km, 2 decimals), relation, skills;
- ``routing.csv``: seeker, channel, reason, the vacancy offered;
- ``sms.csv``: the SMS outbox (ids, number, reply reference, encoding, segments, body);
- ``queue.csv``: the counsellor queue (ids, agency, queue, reason, status, score, the sentence shown);
- ``quarantine.csv``: file, line, field, reason.

No timestamp and no random id is compared. A change to any of these results fails here; when the change is
intended, rewrite the files and review their diff like code::

    TREMPLIN_GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/golden -k sqlite
    git diff tests/golden/expected
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import time_machine

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox
from connectors.warehouse import Warehouse
from tremplin.nightly import tasks
from tremplin.settings import Settings

HERE = Path(__file__).parent
NIGHT = date(2026, 11, 23)
INBOX = HERE / "inbox" / NIGHT.isoformat()
EXPECTED = HERE / "expected"
# the night of the 23rd runs in the small hours after it
CLOCK = datetime(2026, 11, 24, 2, 0, tzinfo=ZoneInfo("Europe/Paris"))
UPDATE = os.environ.get("TREMPLIN_GOLDEN_UPDATE") == "1"


def _score(value: float) -> str:
    return f"{value:.6f}"


def _km(value: float) -> str:
    return f"{value:.2f}"


def _codes(values: Iterable[str]) -> str:
    return "|".join(values)


# file -> columns, each with how its value is written
Projection = dict[str, Callable[[Any], str]]
FILES: dict[str, Projection] = {
    "matches.csv": {
        "seeker_id": str,
        "vacancy_id": str,
        "rank": str,
        "score": _score,
        "distance_km": _km,
        "occupation_relation": str,
        "matched_skills": _codes,
        "missing_required_skills": _codes,
    },
    "routing.csv": {"seeker_id": str, "channel": str, "reason": str, "vacancy_id": str},
    "sms.csv": {
        "message_id": str,
        "seeker_id": str,
        "vacancy_id": str,
        "agency_id": str,
        "to_number": str,
        "reply_ref": str,
        "encoding": str,
        "segments": str,
        "body": str,
    },
    "queue.csv": {
        "item_id": str,
        "seeker_id": str,
        "vacancy_id": str,
        "agency_id": str,
        "queue": str,
        "reason": str,
        "status": str,
        "score": _score,
        "sentence": str,
    },
    "quarantine.csv": {"file": str, "line": str, "field": str, "reason": str},
}


def run_golden_night(home: Path, data_dir: Path, opstore_url: str) -> dict[str, str]:
    """Run the golden night in a fresh home and return each expected file's text as this run writes it."""
    settings = Settings.from_env({}, data_dir=data_dir, home=home, opstore_url=opstore_url, sms_rate_per_second=0.0)
    shutil.copytree(INBOX, settings.inbox / NIGHT.isoformat())
    with time_machine.travel(CLOCK):
        tasks.run_night(settings, NIGHT)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        matches = wh.frame("select_matches", {"run_date": NIGHT}).sort("seeker_id", "rank")
        routing = wh.table("routing").filter(pl.col("run_date") == NIGHT).sort("seeker_id")
        quarantine = wh.table("quarantine").sort("file", "line", "field")
    store = OpStore(settings.opstore)
    sms = sorted(store.table_rows(sms_outbox), key=lambda row: row["message_id"])
    queue = sorted(store.table_rows(counsellor_queue), key=lambda row: row["item_id"])
    for item in queue:
        item["sentence"] = item["explanation"]["sentence"]
    rows = {
        "matches.csv": matches.to_dicts(),
        "routing.csv": routing.to_dicts(),
        "sms.csv": sms,
        "queue.csv": queue,
        "quarantine.csv": quarantine.to_dicts(),
    }
    return {name: _csv(rows[name], FILES[name]) for name in FILES}


def _csv(rows: list[dict[str, Any]], projection: Projection) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(projection)
    for row in rows:
        writer.writerow(["" if row[name] is None else write(row[name]) for name, write in projection.items()])
    return out.getvalue()


def test_the_golden_night_gives_the_committed_results(tmp_path: Path, data_dir: Path, opstore_url: str) -> None:
    produced = run_golden_night(tmp_path / "home", data_dir, opstore_url)
    if UPDATE:
        EXPECTED.mkdir(exist_ok=True)
        for name, text in produced.items():
            (EXPECTED / name).write_text(text, encoding="utf-8")
    for name, text in produced.items():
        expected = (EXPECTED / name).read_text(encoding="utf-8")
        assert text.splitlines() == expected.splitlines(), f"{name} differs (TREMPLIN_GOLDEN_UPDATE=1 rewrites it)"


def test_the_golden_input_exercises_every_route() -> None:
    """The expected files hold each kind of decision the input was written for (a guard on the input itself)."""
    with (EXPECTED / "routing.csv").open(encoding="utf-8") as handle:
        reasons = {row["reason"] for row in csv.DictReader(handle)}
    assert {
        "sms_default",
        "no_mobile",
        "no_sms_consent",
        "declared_preference",
        "rural_low_digital",
    } <= reasons
    with (EXPECTED / "quarantine.csv").open(encoding="utf-8") as handle:
        assert {row["reason"] for row in csv.DictReader(handle)} >= {
            "unknown INSEE commune code",
            "not a valid mobile phone number",
            "unknown ROME code (not in ROME 4.0)",
        }
