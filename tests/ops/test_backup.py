"""Backups and restores of both stores (``tremplin backup --to DIR``, ``tremplin restore --from DIR``).

A real night with SMS sent, a reply, a counsellor account, an audit event and a note is backed up; the stores
are then changed and destroyed, restored into new locations, and every table is compared with what it held at
backup time. The restored stores work: constraints and append-only triggers are back, the run report is written
from them. SQLite and PostgreSQL for the operational store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from connectors.opstore import OpStore
from connectors.optables import audit_events, counsellor_queue, metadata, sms_outbox, suppression
from connectors.reference import Reference
from connectors.sms import RecordingGateway
from connectors.warehouse import CREATE_STATEMENTS, Warehouse
from tests.conftest import REAL_OFFERS
from tests.support.outbox import MONDAY_10H_PARIS, outbox_row
from tremplin.cli import app
from tremplin.dev.generate import generate
from tremplin.nightly import ingest, summary, tasks
from tremplin.ops.backup import MANIFEST, BackupError, backup, restore, verify
from tremplin.review.accounts import create_user
from tremplin.review.actions import add_note, record_view
from tremplin.settings import PROJECT_ROOT, Settings
from tremplin.sms.conversation import Inbound, handle_inbound
from tremplin.sms.dispatch import dispatch

NIGHT = date(2026, 11, 23)
MONDAY_10H = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "pw-7c1e-not-for-files"
WAREHOUSE_TABLES = sorted(name.removeprefix("create_") for name in CREATE_STATEMENTS)
runner = CliRunner()


def warehouse_tables(path: Path) -> dict[str, pl.DataFrame]:
    with Warehouse.open(path, read_only=True) as wh:
        return {name: wh.table(name).sort(pl.all()) for name in WAREHOUSE_TABLES}


def warehouse_constraints(path: Path) -> set[tuple[str, str, str]]:
    """Primary keys and NOT NULLs: the nightly upserts need them (ON CONFLICT names the key)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select table_name, constraint_type, constraint_column_names::varchar from duckdb_constraints()"
        ).fetchall()
    finally:
        con.close()
    return {(str(a), str(b), str(c)) for a, b, c in rows}


def store_tables(url: str) -> dict[str, list[dict[str, Any]]]:
    store = OpStore(url)
    try:
        out = {}
        for table in metadata.sorted_tables:
            keys = [column.name for column in table.primary_key.columns]
            out[table.name] = sorted(store.table_rows(table), key=lambda r: tuple(str(r[k]) for k in keys))
        return out
    finally:
        store.close()


def home_settings(home: Path, data_dir: Path, url: str) -> Settings:
    return Settings.from_env({}, data_dir=data_dir, home=home, opstore_url=url, sms_rate_per_second=0.0)


@pytest.fixture
def restored_url(opstore_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty operational store on the same backend as ``opstore_url``."""
    if opstore_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'opstore.sqlite'}"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


def busy_night(settings: Settings, reference: Reference) -> None:
    """A night, its SMS sent, a seeker's OUI, a counsellor who viewed a seeker and wrote a note, an opt-out."""
    day = settings.inbox / NIGHT.isoformat()
    generate(reference, seekers=1_500, vacancies=400, seed=7, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    tasks.run_night(settings, NIGHT)
    store = OpStore(settings.opstore)
    try:
        assert dispatch(settings, now=MONDAY_10H, gateway=RecordingGateway())["sent"] > 0
        sms = sorted(store.table_rows(sms_outbox), key=lambda r: r["message_id"])
        handle_inbound(store, settings, Inbound("SMin1", sms[0]["to_number"], "+33700000000", "Oui"), now=MONDAY_10H)
        item = store.table_rows(counsellor_queue)[0]
        user = create_user(
            store, username="conseil", password="un mot de passe long", agency_id=item["agency_id"], now=MONDAY_10H
        )
        item_id = str(item["item_id"])
        record_view(store, user, "view_item", at=MONDAY_10H, item_id=item_id)
        add_note(store, user, item_id, "Rappeler jeudi matin.", at=MONDAY_10H)
        store.suppress(sms[1]["to_number"], reason="STOP", source="sms", now=MONDAY_10H)
    finally:
        store.close()


def test_backup_then_restore_into_new_stores_gives_back_every_table(
    tmp_path: Path, reference: Reference, data_dir: Path, opstore_url: str, restored_url: str
) -> None:
    if opstore_url.startswith("postgresql"):
        # a password in the URL (the test server trusts loopback and ignores it): it must reach no backup file
        opstore_url = make_url(opstore_url).set(password=SECRET).render_as_string(hide_password=False)
    settings = home_settings(tmp_path / "home", data_dir, opstore_url)
    busy_night(settings, reference)
    warehouse, store = warehouse_tables(settings.warehouse), store_tables(opstore_url)
    constraints = warehouse_constraints(settings.warehouse)
    figures = summary.collect(settings, NIGHT)
    assert all(len(store[name]) > 0 for name in ("sms_outbox", "conversations", "users", "audit_events", "notes"))

    env = {"TREMPLIN_OPSTORE_URL": opstore_url, "TREMPLIN_DATA_DIR": str(data_dir)}
    done = runner.invoke(app, ["backup", "--to", str(tmp_path / "backup"), "--home", str(settings.home)], env=env)
    assert done.exit_code == 0, done.output
    assert "warehouse:" in done.output and "opstore:" in done.output
    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["warehouse"]["tables"]["matches"] == warehouse["matches"].height
    assert manifest["opstore"]["tables"]["sms_outbox"] == len(store["sms_outbox"])
    # nor in any file of the backup (the Parquet files are compressed: the recorded settings are read back too)
    assert not any(SECRET.encode() in path.read_bytes() for path in (tmp_path / "backup").rglob("*") if path.is_file())
    assert not any(SECRET in text for text in warehouse["run_manifest"]["settings_json"])
    assert SECRET not in done.output
    assert (tmp_path / "backup").stat().st_mode & 0o077 == 0  # personal data: the owner only

    # the stores change, then are lost
    OpStore(opstore_url).suppress("+33639989999", reason="STOP", source="sms", now=datetime.now(UTC))
    settings.warehouse.unlink()
    if opstore_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.home / 'opstore.sqlite'}{suffix}").unlink(missing_ok=True)
    else:
        engine = sa.create_engine(opstore_url)
        with engine.begin() as conn:
            conn.execute(sa.text("drop schema public cascade"))
            conn.execute(sa.text("create schema public"))
        engine.dispose()

    restored = home_settings(tmp_path / "restored", data_dir, restored_url)
    env = {"TREMPLIN_OPSTORE_URL": restored_url, "TREMPLIN_DATA_DIR": str(data_dir)}
    done = runner.invoke(app, ["restore", "--from", str(tmp_path / "backup"), "--home", str(restored.home)], env=env)
    assert done.exit_code == 0, done.output

    after = warehouse_tables(restored.warehouse)
    for name, frame in warehouse.items():
        assert frame.schema == after[name].schema, name
        assert frame.equals(after[name]), name
    assert warehouse_constraints(restored.warehouse) == constraints
    assert store_tables(restored_url) == store
    # the restored stores work: the night's figures and run report, and the audit trail is still append-only
    assert summary.collect(restored, NIGHT) == figures
    done = runner.invoke(app, ["report", "--run", NIGHT.isoformat(), "--home", str(restored.home)], env=env)
    assert done.exit_code == 0, done.output
    assert (restored.reports / f"report-{NIGHT.isoformat()}.html").is_file()
    with OpStore(restored_url).begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.update(audit_events).values(action="edited"))


def test_a_backup_taken_while_the_web_app_writes_is_one_consistent_snapshot(
    tmp_path: Path, data_dir: Path, opstore_url: str, restored_url: str
) -> None:
    """Opt-outs keep arriving (another connection commits one row after another) while the store is backed up:
    the backup holds a whole prefix of them, its manifest counts exactly that, and the restore finds it."""
    settings = home_settings(tmp_path / "home", data_dir, opstore_url)
    writer_store = OpStore(opstore_url)
    stop, written = threading.Event(), []

    def write() -> None:
        n = 0
        while not stop.is_set() or n < 50:
            phone = f"+3363998{n:04d}"
            writer_store.suppress(phone, reason="STOP", source="sms", now=datetime(2026, 11, 23, tzinfo=UTC))
            written.append(phone)
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        manifest = backup(settings, tmp_path / "backup", now=datetime.now(UTC), parts=["opstore"])
    finally:
        stop.set()
        writer.join()
        writer_store.close()
    taken = manifest["opstore"]["tables"]["suppression"]
    assert 20 <= taken <= len(written)
    restore(home_settings(tmp_path / "restored", data_dir, restored_url), tmp_path / "backup", parts=["opstore"])
    phones = sorted(row["phone"] for row in OpStore(restored_url).table_rows(suppression))
    assert phones == sorted(written[:taken])  # committed in order: the snapshot holds the first ones, whole


def small_warehouse(settings: Settings, reference: Reference) -> None:
    """A warehouse with one night's inputs loaded."""
    generate(reference, seekers=200, vacancies=50, seed=3, out_dir=settings.inbox / NIGHT.isoformat())
    ingest.ingest(settings, NIGHT)


def test_a_damaged_or_unfinished_backup_is_refused_and_no_store_is_overwritten(
    tmp_path: Path, reference: Reference, data_dir: Path
) -> None:
    settings = home_settings(tmp_path / "home", data_dir, f"sqlite:///{tmp_path / 'home' / 'opstore.sqlite'}")
    small_warehouse(settings, reference)
    OpStore(settings.opstore).close()
    folder = tmp_path / "backup"
    manifest = backup(settings, folder, now=datetime.now(UTC))
    assert verify(folder)["files"] == manifest["files"]
    with pytest.raises(BackupError, match="is not empty"):
        backup(settings, folder, now=datetime.now(UTC))
    # restoring onto the live stores is refused, store by store
    with pytest.raises(BackupError, match=r"warehouse .*warehouse\.duckdb exists"):
        restore(settings, folder)
    with pytest.raises(BackupError, match=r"operational store .*opstore\.sqlite exists"):
        restore(settings, folder, parts=["opstore"])
    # one byte changed in one table's file
    seekers = folder / "warehouse" / "seekers.parquet"
    data = bytearray(seekers.read_bytes())
    data[len(data) // 2] ^= 0xFF
    seekers.write_bytes(bytes(data))
    fresh = home_settings(tmp_path / "fresh", data_dir, f"sqlite:///{tmp_path / 'fresh' / 'opstore.sqlite'}")
    with pytest.raises(BackupError, match=r"damaged: warehouse/seekers\.parquet differs"):
        restore(fresh, folder)
    assert not fresh.warehouse.exists() and not (fresh.home / "opstore.sqlite").exists()
    # a file missing, then no manifest (a backup that never finished)
    seekers.unlink()
    with pytest.raises(BackupError, match=r"incomplete: warehouse/seekers\.parquet is missing"):
        restore(fresh, folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(BackupError, match=r"holds no manifest\.json"):
        restore(fresh, folder)


HOLD_WAREHOUSE = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


def test_the_backup_stops_while_a_task_holds_the_warehouse(
    tmp_path: Path, reference: Reference, data_dir: Path
) -> None:
    settings = home_settings(tmp_path / "home", data_dir, f"sqlite:///{tmp_path / 'home' / 'opstore.sqlite'}")
    small_warehouse(settings, reference)
    task = subprocess.Popen(
        [sys.executable, "-c", HOLD_WAREHOUSE, str(settings.warehouse)],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert task.stdout is not None and task.stdout.readline().strip() == "holding"
        with pytest.raises(BackupError, match="a nightly or retention task may hold it: back up outside the nightly"):
            backup(settings, tmp_path / "backup", now=datetime.now(UTC))
    finally:
        task.kill()
        task.wait()
    assert not (tmp_path / "backup" / MANIFEST).exists()  # recognisably unfinished


def test_sms_waiting_in_a_restored_store_are_looked_up_before_they_are_sent(
    tmp_path: Path, data_dir: Path, opstore_url: str, restored_url: str
) -> None:
    """Two SMS wait in the outbox when the backup is taken; one goes out afterwards, then the store is lost. After
    the restore the next dispatch asks the provider first: the one it has is recorded as sent, not sent again."""
    settings = home_settings(tmp_path / "home", data_dir, opstore_url)
    store = OpStore(opstore_url)
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(i, not_before=MONDAY_10H_PARIS) for i in range(2)])
    store.close()
    backup(settings, tmp_path / "backup", now=MONDAY_10H_PARIS, parts=["opstore"])
    provider = RecordingGateway()
    first = dispatch(settings, now=MONDAY_10H_PARIS, gateway=provider, limit=1)  # sent after the backup
    assert first["sent"] == 1
    restored = home_settings(tmp_path / "restored", data_dir, restored_url)
    result = restore(restored, tmp_path / "backup", parts=["opstore"])
    assert result["opstore"]["sms_held_for_lookup"] == 2
    assert {row["status"] for row in OpStore(restored_url).table_rows(sms_outbox)} == {"sending"}
    later = dispatch(restored, now=MONDAY_10H_PARIS + timedelta(minutes=5), gateway=provider)
    assert (later["reconciled_sent"], later["reconciled_requeued"], later["sent"]) == (1, 1, 1)
    assert sorted(m.idempotency_key for m in provider.sent) == sorted(
        row["message_id"] for row in OpStore(restored_url).table_rows(sms_outbox)
    )
    assert {row["status"] for row in OpStore(restored_url).table_rows(sms_outbox)} == {"sent"}
