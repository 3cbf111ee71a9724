"""The retention job on a real DuckDB warehouse and a real SQLite store: what goes, what stays, what the KPIs
still count; the six-month floor the store itself enforces; the settings that guard it; the CLI and the DAG.

The store's floor is measured against the database's clock, so the scenes are dated back from now.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.opstore import OpStore
from connectors.optables import (
    audit_events,
    conversations,
    counsellor_queue,
    inbound_messages,
    metadata,
    notes,
    offer_key,
    screening_answers,
    seekers,
    sms_outbox,
    sms_status_events,
    suppression,
)
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tremplin.cli import app
from tremplin.dev.airflow_runner import run_dag, settings_env
from tremplin.dev.generate import generate
from tremplin.errors import ConfigError
from tremplin.nightly import tasks
from tremplin.ops import retention
from tremplin.settings import Settings

WAREHOUSE_TABLES = (
    "seekers",
    "seeker_codes",
    "seeker_protected",
    "matches",
    "routing",
    "feedback",
    "shortlists",
    "quarantine",
    "run_manifest",
    "ingest_stats",
    "run_steps",
)
GONE_PHONE, QUIET_PHONE = "+33639980101", "+33639980102"
KEPT = ("S-RECENT", "S-OPEN", "S-QUEUED", "S-FRESH")


# --- building a scene ----------------------------------------------------------------------------------


def put(wh: Warehouse, table: str, rows: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> None:
    wh.con.register("staged_rows", pl.DataFrame(rows, schema_overrides=schema))
    try:
        wh.con.execute(f"insert into {table} by name select * from staged_rows").fetchall()
    finally:
        wh.con.unregister("staged_rows")


def profile(seeker_id: str, updated_at: datetime, phone: str | None) -> dict[str, Any]:
    return {
        "seeker_id": seeker_id,
        "mobile": phone,
        "commune": "07019",
        "radius_km": 30.0,
        "occupations": ["D1102"],
        "skills": ["Pétrir la pâte"],
        "contract_types": ["CDI"],
        "working_time": "full_time",
        "driving_licence": True,
        "experience_months": 24,
        "qualification_code": None,
        "sms_consent": phone is not None,
        "preferred_channel": "sms",
        "agency_id": "FT-07-001",
        "updated_at": updated_at,
        "source_file": "seekers.csv",
    }


def match(night: date, seeker_id: str, vacancy_id: str, rank: int) -> dict[str, Any]:
    return {
        "run_date": night,
        "seeker_id": seeker_id,
        "vacancy_id": vacancy_id,
        "rank": rank,
        "score": 0.6,
        "skill_score": 0.5,
        "occupation_score": 1.0,
        "distance_score": 0.4,
        "distance_km": 12.0,
        "occupation_relation": "same_sheet",
        "matched_skills": ["100007"],
        "missing_required_skills": ["100009"],
    }


def sms(
    night: date, seeker_id: str, vacancy_id: str, phone: str, status: str, created_at: datetime, **extra: Any
) -> dict[str, Any]:
    row = {
        "message_id": offer_key(night, seeker_id, vacancy_id),
        "run_date": night,
        "seeker_id": seeker_id,
        "vacancy_id": vacancy_id,
        "agency_id": "FT-07-001",
        "to_number": phone,
        "reply_ref": 1,
        "body": f"TREMPLIN: offre {vacancy_id} à Aubenas (12 km). Répondez OUI ou NON (réf. 1).",
        "segments": 2,
        "encoding": "GSM-7",
        "score": 0.6,
        "explanation": {"title": "Boulanger", "distance_km": 12.0},
        "status": status,
        "status_reason": None,
        "attempts": 1,
        "not_before": created_at,
        "created_at": created_at,
        "sending_at": None,
        "sent_at": None,
        "status_at": None,
        "replied_at": None,
        "provider_sid": None,
        "error_code": None,
    }
    return {**row, **extra}


def item(
    night: date, seeker_id: str, vacancy_id: str, status: str, created_at: datetime, **extra: Any
) -> dict[str, Any]:
    row = {
        "item_id": offer_key(night, seeker_id, vacancy_id),
        "run_date": night,
        "agency_id": "FT-07-001",
        "seeker_id": seeker_id,
        "vacancy_id": vacancy_id,
        "queue": "to_call",
        "reason": "no_mobile",
        "score": 0.6,
        "explanation": {"title": "Boulanger", "distance_km": 12.0},
        "status": status,
        "conversation_id": None,
        "created_at": created_at,
        "updated_at": created_at,
        "contacted_at": None,
        "outcome": None,
        "decision_reason": None,
        "decided_at": None,
        "assigned_to": None,
        "updated_by": None,
        "version": 1,
    }
    return {**row, **extra}


def audit(at: datetime, action: str, seeker_id: str | None = None) -> dict[str, Any]:
    return {
        "at": at,
        "user_id": 7,
        "agency_id": "FT-07-001",
        "action": action,
        "item_id": None,
        "seeker_id": seeker_id,
        "vacancy_id": None,
        "details": {},
    }


@dataclass(frozen=True)
class Scene:
    settings: Settings
    as_of: datetime
    night_a: date  # 800 days back: S-GONE, S-QUIET and the kept ones were matched
    night_b: date  # 799 days back: S-GONE's second offer

    def ago(self, days: float) -> datetime:
        return self.as_of - timedelta(days=days)


@pytest.fixture
def scene(tmp_path: Path, data_dir: Path, opstore_url: str) -> Scene:
    """The scene on each backend of the operational store (SQLite, and PostgreSQL when there is a server)."""
    return build_scene(tmp_path, data_dir, opstore_url)


@pytest.fixture
def sqlite_scene(tmp_path: Path, data_dir: Path) -> Scene:
    return build_scene(tmp_path, data_dir, None)


def build_scene(tmp_path: Path, data_dir: Path, opstore_url: str | None) -> Scene:
    """Seekers with a profile 800 days old: S-GONE (answered an SMS, hired through a counsellor, a note),
    S-QUIET (a counsellor item closed as not interested); and four to keep: S-RECENT (replied to an SMS 10
    days ago), S-OPEN (an open counsellor item from 790 days ago), S-QUEUED (an SMS still queued), S-FRESH
    (profile updated 30 days ago). Plus records of every age."""
    settings = Settings.from_env(
        {}, data_dir=data_dir, home=tmp_path / "home", opstore_url=opstore_url, audit_retention_days=190
    )
    as_of = datetime.now(UTC).replace(microsecond=0)
    s = Scene(settings, as_of, (as_of - timedelta(days=800)).date(), (as_of - timedelta(days=799)).date())
    a, b = s.night_a, s.night_b
    old = s.ago(800)
    with Warehouse.open(settings.warehouse) as wh:
        put(
            wh,
            "seekers",
            [
                profile("S-GONE", old, GONE_PHONE),
                profile("S-QUIET", s.ago(750), None),
                profile("S-RECENT", old, "+33639980103"),
                profile("S-OPEN", old, None),
                profile("S-QUEUED", old, "+33639980105"),
                profile("S-FRESH", s.ago(30), "+33639980106"),
            ],
        )
        put(
            wh,
            "seeker_codes",
            [
                {
                    "seeker_id": i,
                    "rome_codes": ["D1102"],
                    "item_codes": ["100007"],
                    "unresolved": ["pâte"],
                    "profile_updated_at": old,
                }
                for i in ("S-GONE", "S-QUIET", "S-OPEN", "S-FRESH")
            ],
        )
        put(
            wh,
            "seeker_protected",
            [
                {"seeker_id": i, "gender": "F", "birth_year": 1980, "disability": False, "updated_at": old}
                for i in ("S-GONE", "S-QUIET", "S-FRESH")
            ],
        )
        put(
            wh,
            "matches",
            [
                match(a, "S-GONE", "V1", 1),
                match(a, "S-GONE", "V2", 2),
                match(b, "S-GONE", "V2", 1),
                match(a, "S-QUIET", "V3", 1),
                match(a, "S-RECENT", "V1", 1),
                match(a, "S-OPEN", "V3", 1),
            ],
        )
        put(
            wh,
            "routing",
            [
                {"run_date": a, "seeker_id": "S-GONE", "channel": "sms", "reason": "sms_default", "vacancy_id": "V1"},
                {"run_date": b, "seeker_id": "S-GONE", "channel": "sms", "reason": "sms_default", "vacancy_id": "V2"},
                {
                    "run_date": a,
                    "seeker_id": "S-QUIET",
                    "channel": "counsellor",
                    "reason": "no_mobile",
                    "vacancy_id": "V3",
                },
                {
                    "run_date": a,
                    "seeker_id": "S-OPEN",
                    "channel": "counsellor",
                    "reason": "no_mobile",
                    "vacancy_id": "V3",
                },
            ],
        )
        put(
            wh,
            "feedback",
            [
                {"day": a, "seeker_id": "S-GONE", "vacancy_id": "V1", "label": 1, "source": "hired"},
                {"day": a, "seeker_id": "S-QUIET", "vacancy_id": "V3", "label": 0, "source": "not_interested"},
            ],
        )
        put(
            wh,
            "shortlists",
            [
                {"run_date": a, "vacancy_id": "V1", "rank": 1, "seeker_id": "S-GONE", "score": 0.6},
                {"run_date": a, "vacancy_id": "V3", "rank": 1, "seeker_id": "S-QUIET", "score": 0.6},
                {"run_date": a, "vacancy_id": "V3", "rank": 2, "seeker_id": "S-OPEN", "score": 0.5},
            ],
        )
        put(
            wh,
            "quarantine",
            [
                {
                    "run_date": s.ago(100).date(),
                    "file": "seekers.csv",
                    "line": 4,
                    "field": "mobile",
                    "reason": "not a valid mobile phone number",
                    "raw": "JS9,Jeanne Dupont,+3361234",
                },
                {
                    "run_date": s.ago(10).date(),
                    "file": "seekers.csv",
                    "line": 9,
                    "field": "commune",
                    "reason": "unknown INSEE commune code",
                    "raw": "JS8,Marc Petit,99999",
                },
            ],
        )
        put(
            wh,
            "run_manifest",
            [
                {
                    "run_date": s.ago(days).date(),
                    "run_id": f"run-{days}",
                    "started_at": s.ago(days),
                    "finished_at": None,
                    "code_version": "0.1.0+gabc",
                    "settings_hash": "f" * 16,
                    "settings_json": "{}",
                    "taxonomy_version": "459",
                    "inputs_json": "[]",
                    "outputs_json": None,
                    "model_json": None,
                }
                for days in (400, 100)
            ],
        )
        put(
            wh,
            "ingest_stats",
            [
                {
                    "run_date": s.ago(days).date(),
                    "file": f,
                    "kind": f.removesuffix(".csv"),
                    "rows_read": 10,
                    "rows_loaded": 9,
                    "rows_quarantined": 1,
                    "fingerprint": "0" * 16,
                }
                for days in (400, 100)
                for f in ("seekers.csv", "vacancies.csv")
            ],
        )
        put(
            wh,
            "run_steps",
            [
                {"run_date": s.ago(days).date(), "step": step, "finished_at": s.ago(days), "result_json": "{}"}
                for days in (400, 100)
                for step in ("ingest", "normalize", "score")
            ],
        )
    store = OpStore(settings.opstore)
    with store.begin() as conn:
        conn.execute(
            sa.insert(seekers),
            [
                {
                    "seeker_id": i,
                    "agency_id": "FT-07-001",
                    "phone": phone,
                    "commune": "07019",
                    "commune_name": "Aubenas",
                    "profile": {"skills": ["Pétrir la pâte"]},
                    "run_date": a,
                }
                for i, phone in (
                    ("S-GONE", GONE_PHONE),
                    ("S-QUIET", None),
                    ("S-RECENT", "+33639980103"),
                    ("S-OPEN", None),
                )
            ],
        )
        conn.execute(
            sa.insert(sms_outbox),
            [
                sms(
                    a,
                    "S-GONE",
                    "V1",
                    GONE_PHONE,
                    "delivered",
                    s.ago(800),
                    sent_at=s.ago(800),
                    provider_sid="SM1",
                    replied_at=s.ago(799),
                ),
                sms(b, "S-GONE", "V2", GONE_PHONE, "delivered", s.ago(799), sent_at=s.ago(799), provider_sid="SM2"),
                sms(
                    a,
                    "S-RECENT",
                    "V1",
                    "+33639980103",
                    "delivered",
                    s.ago(800),
                    sent_at=s.ago(800),
                    provider_sid="SM3",
                    replied_at=s.ago(10),
                ),
                sms(b, "S-QUEUED", "V4", "+33639980105", "queued", s.ago(790)),
            ],
        )
        conn.execute(
            sa.insert(sms_status_events),
            [
                {"message_sid": sid, "status": status, "error_code": None, "received_at": s.ago(799)}
                for sid, status in (("SM1", "sent"), ("SM1", "delivered"), ("SM2", "delivered"), ("SM3", "delivered"))
            ],
        )
        gone_conversation = f"{a.isoformat()}:S-GONE:V1"
        conn.execute(
            sa.insert(conversations),
            [
                {
                    "conversation_id": gone_conversation,
                    "seeker_id": "S-GONE",
                    "vacancy_id": "V1",
                    "phone": GONE_PHONE,
                    "state": "interested",
                    "step": 3,
                    "opened_at": s.ago(799),
                    "updated_at": s.ago(799),
                },
                {
                    "conversation_id": f"{a.isoformat()}:S-RECENT:V1",
                    "seeker_id": "S-RECENT",
                    "vacancy_id": "V1",
                    "phone": "+33639980103",
                    "state": "declined",
                    "step": 0,
                    "opened_at": s.ago(10),
                    "updated_at": s.ago(10),
                },
            ],
        )
        conn.execute(
            sa.insert(screening_answers),
            [
                {
                    "conversation_id": gone_conversation,
                    "question_key": key,
                    "question": f"{key} ?",
                    "answer": "oui",
                    "answer_yes_no": True,
                    "asked_at": s.ago(799),
                    "answered_at": s.ago(799),
                }
                for key in ("availability", "travel", "hours")
            ],
        )
        conn.execute(
            sa.insert(inbound_messages),
            [
                {
                    "message_sid": sid,
                    "from_number": phone,
                    "to_number": "+33700000000",
                    "body": body,
                    "received_at": at,
                    "intent": intent,
                    "conversation_id": conversation,
                    "reply_body": None,
                    "opt_out_type": None,
                }
                for sid, phone, body, at, intent, conversation in (
                    ("SMin1", GONE_PHONE, "Oui !", s.ago(799), "yes", gone_conversation),
                    ("SMin2", GONE_PHONE, "oui pour les horaires", s.ago(799), "yes", gone_conversation),
                    ("SMin3", GONE_PHONE, "STOP", s.ago(790), "opt_out", None),  # no conversation: goes by age
                    ("SMin4", "+33639980199", "C'est qui ?", s.ago(10), "unclear", None),  # young: stays
                    ("SMin5", "+33639980103", "Non merci", s.ago(10), "no", f"{a.isoformat()}:S-RECENT:V1"),
                )
            ],
        )
        conn.execute(
            sa.insert(counsellor_queue),
            [
                item(
                    a,
                    "S-GONE",
                    "V1",
                    "hired",
                    s.ago(799),
                    queue="interested",
                    reason="screened",
                    conversation_id=gone_conversation,
                    updated_at=s.ago(798),
                    decided_at=s.ago(798),
                    decision_reason="embauchée chez Boulangerie Martin",
                    outcome="reached",
                ),
                item(
                    a,
                    "S-QUIET",
                    "V3",
                    "not_interested",
                    s.ago(749),
                    updated_at=s.ago(748),
                    decided_at=s.ago(748),
                    decision_reason="a déménagé à Lyon",
                ),
                item(a, "S-OPEN", "V3", "open", s.ago(790)),
            ],
        )
        conn.execute(
            sa.insert(notes),
            [
                {
                    "seeker_id": i,
                    "item_id": None,
                    "agency_id": "FT-07-001",
                    "user_id": 7,
                    "body": body,
                    "created_at": s.ago(798),
                }
                for i, body in (("S-GONE", "Rappeler Mme après 17 h"), ("S-OPEN", "Pas de téléphone fixe"))
            ],
        )
        conn.execute(
            sa.insert(audit_events),
            [
                audit(s.ago(798), "contacted", "S-GONE"),
                audit(s.ago(200), "login"),
                audit(s.ago(100), "login"),
                audit(s.ago(20), "view_contact", "S-RECENT"),
            ],
        )
        conn.execute(
            sa.insert(suppression),
            [{"phone": GONE_PHONE, "kind": "opt_out", "reason": "STOP", "source": "sms", "created_at": s.ago(790)}],
        )
    store.close()
    return s


# --- reading the stores back ---------------------------------------------------------------------------


def warehouse_tables(settings: Settings) -> dict[str, pl.DataFrame]:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {name: wh.table(name).sort(pl.all()) for name in WAREHOUSE_TABLES}


def opstore_tables(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    store = OpStore(settings.opstore)
    try:
        return {t.name: sorted(store.table_rows(t), key=repr) for t in metadata.sorted_tables}
    finally:
        store.close()


def snapshot(settings: Settings) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[Any]]]:
    return opstore_tables(settings), {k: v.rows() for k, v in warehouse_tables(settings).items()}


def every_text(settings: Settings) -> Iterator[tuple[str, str]]:
    """(table, text of a row) for every row of both stores."""
    for name, rows in opstore_tables(settings).items():
        for row in rows:
            yield f"opstore.{name}", json.dumps(row, default=str, ensure_ascii=False)
    for name, frame in warehouse_tables(settings).items():
        for row in frame.iter_rows(named=True):
            yield f"warehouse.{name}", json.dumps(row, default=str, ensure_ascii=False)


def kpis(settings: Settings) -> dict[str, Counter[Any]]:
    """What the reports count: matches and routing per night, SMS and counsellor items per status, feedback."""
    wh = warehouse_tables(settings)
    op = opstore_tables(settings)
    return {
        "matches": Counter(wh["matches"]["run_date"].to_list()),
        "routing": Counter(wh["routing"].select("run_date", "channel", "reason").rows()),
        "feedback": Counter(wh["feedback"].select("day", "label", "source").rows()),
        "shortlists": Counter(wh["shortlists"].select("run_date", "vacancy_id").rows()),
        "sms": Counter((r["run_date"], r["status"], r["segments"]) for r in op["sms_outbox"]),
        "queue": Counter((r["run_date"], r["queue"], r["status"], r["outcome"]) for r in op["counsellor_queue"]),
    }


def rows_of(settings: Settings, seeker_ids: tuple[str, ...]) -> dict[str, list[str]]:
    """Every row naming one of these seekers, as text."""
    found: dict[str, list[str]] = {}
    for table, text in every_text(settings):
        if any(f'"{s}"' in text or f":{s}:" in text for s in seeker_ids):
            found.setdefault(table, []).append(text)
    return {k: sorted(v) for k, v in found.items()}


# the scene's expected counts, worked out from the fixture's docstring and rows
EXPECTED = {
    "opstore.seekers": {"deleted": 2},  # S-GONE, S-QUIET (S-RECENT and S-OPEN are kept)
    "opstore.conversations": {"deleted": 1},
    "opstore.screening_answers": {"deleted": 3},
    "opstore.inbound_messages": {"deleted": 3},  # two in S-GONE's conversation, the 790-day-old STOP
    "opstore.notes": {"deleted": 1},
    "opstore.sms_status_events": {"deleted": 3},  # SM1 sent and delivered, SM2 delivered
    "opstore.sms_outbox": {"pseudonymized": 2},
    "opstore.counsellor_queue": {"pseudonymized": 2},
    "opstore.audit_events": {"deleted": 2},  # 798 and 200 days old (audit_retention_days=190)
    "warehouse.seekers": {"deleted": 2},
    "warehouse.seeker_codes": {"deleted": 2},
    "warehouse.seeker_protected": {"deleted": 2},
    "warehouse.matches": {"pseudonymized": 4},
    "warehouse.routing": {"pseudonymized": 3},
    "warehouse.feedback": {"pseudonymized": 2},
    "warehouse.shortlists": {"pseudonymized": 2},
    "warehouse.quarantine": {"deleted": 1},  # 100 days old, past quarantine_retention_days=90
    "warehouse.run_manifest": {"deleted": 1},  # 400 days old, past manifest_retention_days=365
    "warehouse.ingest_stats": {"deleted": 2},  # that night's two files
    "warehouse.run_steps": {"deleted": 3},  # and its three finished steps
}


# --- the tests -----------------------------------------------------------------------------------------


def test_a_gone_seekers_personal_data_goes_and_the_kpis_count_the_same(scene: Scene) -> None:
    settings = scene.settings
    before = kpis(settings)
    kept_before = rows_of(settings, KEPT)
    result = retention.run(settings, scene.as_of)
    assert result["gone_seekers"] == 2
    assert result["rows"] == EXPECTED

    # nothing names S-GONE or S-QUIET any more, in any table of either store, ids inside keys included
    assert rows_of(settings, ("S-GONE", "S-QUIET")) == {}
    texts = list(every_text(settings))
    for secret in ("embauchée chez", "a déménagé", "Rappeler Mme", "oui pour les horaires", "Jeanne Dupont"):
        assert not [t for t in texts if secret in t[1]], secret
    # the number lives on in the suppression list only: an opt-out holds for good
    assert sorted(table for table, text in texts if GONE_PHONE in text) == ["opstore.suppression"]

    # the KPIs count the same, under pseudonyms
    assert kpis(settings) == before
    wh, op = warehouse_tables(settings), opstore_tables(settings)
    gone_matches = wh["matches"].filter(pl.col("seeker_id").str.starts_with("anon-"))
    assert gone_matches.height == 4
    gone_anon = set(gone_matches.filter(pl.col("vacancy_id") != "V3")["seeker_id"])
    assert len(gone_anon) == 1  # one seeker, one pseudonym in every table of the run
    (anon,) = gone_anon
    quiet_anon = gone_matches.filter(pl.col("vacancy_id") == "V3")["seeker_id"].to_list()
    assert len(quiet_anon) == 1 and quiet_anon[0] != anon and len(anon) == len("anon-") + 32
    assert set(wh["routing"].filter(pl.col("channel") == "sms")["seeker_id"]) == {anon}
    assert wh["feedback"].filter(pl.col("label") == 1)["seeker_id"].to_list() == [anon]
    assert wh["shortlists"].filter(pl.col("vacancy_id") == "V1")["seeker_id"].to_list() == [anon]
    outbox = {r["message_id"]: r for r in op["sms_outbox"] if r["seeker_id"].startswith("anon-")}
    message = offer_key(scene.night_a, anon, "V1")
    assert set(outbox) == {message, offer_key(scene.night_b, anon, "V2")}
    assert [(r["to_number"], r["body"], r["explanation"], r["provider_sid"]) for r in outbox.values()] == [
        ("", "", {}, None)
    ] * 2
    # what the KPIs read is still there: night, status, times, segments, score
    first = outbox[message]
    assert (first["status"], first["segments"], first["score"], first["run_date"]) == (
        "delivered",
        2,
        0.6,
        scene.night_a,
    )
    assert first["replied_at"] is not None and first["sent_at"] is not None
    items = {r["item_id"]: r for r in op["counsellor_queue"] if r["seeker_id"].startswith("anon-")}
    hired = items[message]  # an item's id is its offer's: rebuilt around the pseudonym like the message's
    assert (hired["status"], hired["queue"], hired["outcome"], hired["conversation_id"]) == (
        "hired",
        "interested",
        "reached",
        message,
    )
    assert hired["decision_reason"] is None and hired["explanation"] == {} and hired["decided_at"] is not None
    assert items[offer_key(scene.night_a, quiet_anon[0], "V3")]["status"] == "not_interested"
    assert [r["message_sid"] for r in op["sms_status_events"]] == ["SM3"]

    # the four others are untouched, down to the last row
    assert rows_of(settings, KEPT) == kept_before

    # old records went, younger ones stayed; the run left one audit event saying what went, not whom
    assert [r["message_sid"] for r in op["inbound_messages"]] == ["SMin4", "SMin5"]
    assert sorted(e["at"].date() for e in op["audit_events"] if e["action"] != "retention") == [
        scene.ago(100).date(),
        scene.ago(20).date(),
    ]
    (record,) = [e for e in op["audit_events"] if e["action"] == "retention"]
    assert record["seeker_id"] is None and record["details"]["gone_seekers"] == 2
    assert record["details"]["rows"]["warehouse.matches"] == {"pseudonymized": 4}
    assert wh["quarantine"]["line"].to_list() == [9]
    assert wh["run_manifest"]["run_id"].to_list() == ["run-100"]
    assert wh["ingest_stats"]["run_date"].unique().to_list() == [scene.ago(100).date()]
    assert wh["run_steps"]["run_date"].unique().to_list() == [scene.ago(100).date()]


def test_a_dry_run_counts_the_same_and_changes_nothing(scene: Scene) -> None:
    before = snapshot(scene.settings)
    result = retention.run(scene.settings, scene.as_of, dry_run=True)
    assert result["dry_run"] is True and result["gone_seekers"] == 2
    assert result["rows"] == EXPECTED
    assert snapshot(scene.settings) == before


def test_a_second_run_changes_nothing(scene: Scene) -> None:
    retention.run(scene.settings, scene.as_of)
    after_first = snapshot(scene.settings)
    again = retention.run(scene.settings, scene.as_of)
    assert again["gone_seekers"] == 0
    assert {table: actions for table, actions in again["rows"].items() if any(actions.values())} == {}
    assert snapshot(scene.settings) == after_first  # not even a second retention audit event


def test_the_store_refuses_young_deletions_and_every_update(scene: Scene) -> None:
    store = OpStore(scene.settings.opstore)
    young = audit_events.c.at > scene.ago(150)  # the 100- and 20-day-old events
    for statement in (
        sa.delete(audit_events).where(young),
        sa.update(audit_events).values(action="nothing").where(audit_events.c.at < scene.ago(700)),
        sa.update(notes).values(body="effacé"),
    ):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.begin() as conn:
            conn.execute(statement)
    with store.begin() as conn:
        conn.execute(
            sa.insert(notes).values(
                seeker_id="S-OPEN", item_id=None, agency_id="FT-07-001", user_id=7, body="b", created_at=scene.ago(2)
            )
        )
    with pytest.raises(sa.exc.IntegrityError, match="younger than 183 days"), store.begin() as conn:
        conn.execute(sa.delete(notes).where(notes.c.created_at > scene.ago(5)))
    # 184 days is past the floor: the store lets it go (the job would, once past audit_retention_days)
    with store.begin() as conn:
        conn.execute(sa.insert(audit_events).values(**audit(scene.ago(184), "login")))
        assert conn.execute(sa.delete(audit_events).where(audit_events.c.at < scene.ago(183.5))).rowcount == 3
    assert len(store.table_rows(audit_events)) == 2
    store.close()


def test_a_job_running_ahead_of_the_store_clock_is_stopped_by_the_floor_and_finished_later(scene: Scene) -> None:
    # as of 100 days from now, audit events older than 90 days by the real clock would go: the store refuses
    later = scene.as_of + timedelta(days=100)
    with pytest.raises(retention.RetentionError, match=r"audit_events.*younger than 183 days"):
        retention.run(scene.settings, later)
    store = OpStore(scene.settings.opstore)
    assert len(store.table_rows(audit_events)) == 4  # that transaction was rolled back whole
    store.close()
    # the operational store's part for the gone seekers was done; their profiles, the to-do list, are not
    with Warehouse.open(scene.settings.warehouse, read_only=True) as wh:
        assert {"S-GONE", "S-QUIET"} <= set(wh.table("seekers")["seeker_id"])
    finished = retention.run(scene.settings, scene.as_of)
    assert finished["gone_seekers"] == 2
    assert finished["rows"]["opstore.sms_outbox"] == {"pseudonymized": 0}
    assert finished["rows"]["warehouse.matches"] == {"pseudonymized": 4}
    assert finished["rows"]["opstore.audit_events"] == {"deleted": 2}
    assert rows_of(scene.settings, ("S-GONE", "S-QUIET")) == {}


def test_what_holds_a_seeker_open_item_queued_sms_a_recent_view(scene: Scene) -> None:
    store = OpStore(scene.settings.opstore)
    with store.begin() as conn:
        # S-OPEN's item is closed and S-QUEUED's SMS dropped, but a counsellor looked at S-GONE's record 3 days ago
        conn.execute(
            sa.update(counsellor_queue).where(counsellor_queue.c.seeker_id == "S-OPEN").values(status="wrong_match")
        )
        conn.execute(sa.update(sms_outbox).where(sms_outbox.c.seeker_id == "S-QUEUED").values(status="dropped"))
        conn.execute(sa.insert(audit_events).values(**audit(scene.ago(3), "view_record", "S-GONE")))
    store.close()
    result = retention.run(scene.settings, scene.as_of)
    assert result["gone_seekers"] == 3  # S-QUIET, S-OPEN, S-QUEUED
    assert result["rows"]["opstore.notes"] == {"deleted": 1}  # S-OPEN's, 798 days old; S-GONE's stays
    assert result["rows"]["opstore.sms_outbox"] == {"pseudonymized": 1}  # S-QUEUED's dropped SMS
    assert rows_of(scene.settings, ("S-QUIET", "S-OPEN", "S-QUEUED")) == {}
    with Warehouse.open(scene.settings.warehouse, read_only=True) as wh:
        assert sorted(wh.table("seekers")["seeker_id"]) == ["S-FRESH", "S-GONE", "S-RECENT"]


def test_naive_as_of_is_refused(sqlite_scene: Scene) -> None:
    with pytest.raises(retention.RetentionError, match="no time zone"):
        retention.run(sqlite_scene.settings, datetime(2026, 11, 22, 14, 0))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"audit_retention_days": 182}, "audit_retention_days must be at least 183"),
        ({"manifest_retention_days": 100}, "manifest_retention_days must be at least 183"),
        ({"audit_retention_days": 400, "seeker_retention_days": 365}, r"audit_retention_days \(400\) must not exceed"),
        ({"seeker_retention_days": 200}, r"audit_retention_days \(365\) must not exceed seeker_retention_days \(200\)"),
        ({"quarantine_retention_days": 0}, "quarantine_retention_days must be between 1 and"),
        ({"quarantine_retention_days": 800}, r"between 1 and seeker_retention_days \(730\), got 800"),
    ],
)
def test_settings_refuse_retention_below_the_floor_or_out_of_order(values: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({}, data_dir=".", **values)


def test_settings_read_retention_from_the_environment() -> None:
    settings = Settings.from_env(
        {"TREMPLIN_SEEKER_RETENTION_DAYS": "1095", "TREMPLIN_AUDIT_RETENTION_DAYS": "183"}, data_dir="."
    )
    assert (settings.seeker_retention_days, settings.audit_retention_days, settings.manifest_retention_days) == (
        1095,
        183,
        365,
    )
    with pytest.raises(ConfigError, match=r"audit_retention_days must be at least 183 \(six months.*\), got 90"):
        Settings.from_env({"TREMPLIN_AUDIT_RETENTION_DAYS": "90"}, data_dir=".")


def test_the_cli_prints_the_counts_and_refuses_a_day_ahead(
    sqlite_scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = sqlite_scene
    monkeypatch.setenv("TREMPLIN_AUDIT_RETENTION_DAYS", "190")
    home = str(scene.settings.home)
    runner = CliRunner()
    done = runner.invoke(app, ["retention", "--dry-run", "--home", home, "--data-dir", str(scene.settings.data_dir)])
    assert done.exit_code == 0, done.output
    assert "dry run: nothing changed" in done.output
    assert "Gone seekers: 2" in done.output
    assert any(line.split() == ["warehouse.matches", "pseudonymized", "4"] for line in done.output.splitlines())
    done = runner.invoke(app, ["retention", "--json", "--home", home])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["rows"] == EXPECTED
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    done = runner.invoke(app, ["retention", "--as-of", tomorrow, "--home", home])
    assert done.exit_code == 2 and "is after today" in done.output
    done = runner.invoke(app, ["retention", "--as-of", "22/11/2026", "--home", home])
    assert done.exit_code == 2 and "not a date YYYY-MM-DD" in done.output


# --- a night of the real pipeline, two years and more later ------------------------------------------------


@pytest.fixture(scope="module")
def old_night(tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path) -> tuple[Settings, date]:
    home = tmp_path_factory.mktemp("retention-night")
    settings = Settings.from_env({}, data_dir=data_dir, home=home)
    night = datetime.now(UTC).date()
    generate(
        reference,
        seekers=2_000,
        vacancies=600,
        seed=5,
        out_dir=settings.inbox / night.isoformat(),
        as_of=datetime(night.year, night.month, night.day, tzinfo=UTC),
    )
    tasks.run_night(settings, night)
    return settings, night


def test_a_real_night_keeps_its_kpis_and_loses_its_people(old_night: tuple[Settings, date], tmp_path: Path) -> None:
    source, night = old_night
    home = tmp_path / "home"
    shutil.copytree(source.home, home)
    settings = Settings.from_env({}, data_dir=source.data_dir, home=home)
    store = OpStore(settings.opstore)
    outbox, items = store.table_rows(sms_outbox), store.table_rows(counsellor_queue)
    assert len(outbox) >= 10 and len(items) >= 10
    sent_at = datetime.combine(night, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    # the provider took every other SMS; the others still wait. Counsellors closed every other item.
    sent = sorted(r["message_id"] for r in outbox)[::2]
    for n, message_id in enumerate(sent):
        store.set_status(message_id, "sending", expect="queued", sending_at=sent_at, attempts=1)
        assert store.record_sent(message_id, f"SM{n:05d}", sent_at)
        if n % 3 == 0:
            store.apply_status(f"SM{n:05d}", "delivered", None, sent_at)
    closed = sorted(r["item_id"] for r in items)[::2]
    with store.begin() as conn:
        conn.execute(
            sa.update(counsellor_queue)
            .where(counsellor_queue.c.item_id.in_(closed))
            .values(status="wrong_match", decision_reason="hors métier", decided_at=sent_at, updated_at=sent_at)
        )
    waiting = {r["seeker_id"] for r in store.table_rows(sms_outbox) if r["status"] == "queued"}
    still_open = {r["seeker_id"] for r in store.table_rows(counsellor_queue) if r["status"] == "open"}
    store.close()
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        everyone = set(wh.table("seekers")["seeker_id"])
        phones = dict(wh.table("seekers").select("seeker_id", "mobile").rows())
        quarantined = wh.table("quarantine").height
    kept = waiting | still_open
    gone = everyone - kept
    assert kept and len(gone) > 100 and quarantined > 0
    before = kpis(settings)

    # 800 days on: every profile is older than seeker_retention_days (730), and so is every night's record
    result = retention.run(settings, night + timedelta(days=800))
    assert result["gone_seekers"] == len(gone)
    assert result["rows"]["warehouse.quarantine"] == {"deleted": quarantined}
    assert result["rows"]["warehouse.run_manifest"] == {"deleted": 1}
    assert kpis(settings) == before
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        assert set(wh.table("seekers")["seeker_id"]) == kept
        assert set(wh.table("seeker_protected")["seeker_id"]) <= kept
        assert wh.table("quarantine").is_empty() and wh.table("run_manifest").is_empty()
    texts = [text for _, text in every_text(settings)]
    named = [s for s in gone if any(f'"{s}"' in t or f":{s}:" in t for t in texts)]
    assert named == []
    kept_phones = {phones[s] for s in kept}
    gone_phones = {phones[s] for s in gone if phones[s]} - kept_phones
    assert gone_phones and not [p for p in gone_phones if any(p in t for t in texts)]
    assert not [t for t in texts if "hors métier" in t]


# --- the DAG ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_retention_dag_runs_in_airflow(sqlite_scene: Scene, tmp_path: Path) -> None:
    scene = sqlite_scene
    today = datetime.now(UTC).date()
    run_dag("retention", today.isoformat(), airflow_home=tmp_path / "airflow", extra_env=settings_env(scene.settings))
    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        states = meta.execute("select task_id, state from task_instance where dag_id = 'retention'").fetchall()
    assert states == [("apply_retention", "success")]
    # as of today's midnight (the logical date): S-GONE and S-QUIET went, the 200-day-old audit event too
    assert rows_of(scene.settings, ("S-GONE", "S-QUIET")) == {}
    store = OpStore(scene.settings.opstore)
    (record,) = [e for e in store.table_rows(audit_events) if e["action"] == "retention"]
    store.close()
    assert record["details"]["rows"]["warehouse.matches"] == {"pseudonymized": 4}
