"""Backups of the two stores into one folder, and their restore into new, empty locations.

- **Warehouse** (DuckDB): ``EXPORT DATABASE`` to Parquet from a read-only connection, in one transaction.
  DuckDB's file lock keeps every writer out meanwhile, so the copy is consistent; and a backup made of
  Parquet files and SQL outlives a DuckDB upgrade that changes the database file format (duckdb 2.0 did),
  which a copy of the ``.duckdb`` file would not. While a nightly or retention task holds the warehouse the
  backup stops with a message (and a task that starts during a backup fails and is retried): run it outside
  the nightly window. Restored with ``IMPORT DATABASE`` into a new file.
- **Operational store**: SQLite through the online backup API (``sqlite3.Connection.backup``: a consistent
  snapshot while the web app and the webhooks write, in WAL mode); PostgreSQL with ``pg_dump -Fc`` in a
  snapshot the row counts are read from too, restored with ``pg_restore`` into an empty database.
- ``manifest.json``, written last: what was backed up, when, each table's rows, each file's size and SHA-256.
  A folder without it is an unfinished backup; a restore checks every file and, once done, every table's rows.
- SMS waiting in a restored store are put in "sending", so the next dispatch asks the provider about each before
  sending it: one that went out after the backup is not sent twice.

Secrets stay out of the folder and of the manifest: a PostgreSQL password goes to pg_dump in ``PGPASSWORD``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from connectors.opstore import OpStore
from connectors.optables import QUEUED, SENDING
from tremplin import code_version
from tremplin.errors import TremplinError
from tremplin.settings import Settings

FORMAT = "tremplin-backup/1"
MANIFEST = "manifest.json"
WAREHOUSE_DIR = "warehouse"
SQLITE_FILE = "opstore.sqlite"
PG_DUMP_FILE = "opstore.pgdump"
PARTS = ("warehouse", "opstore")


class BackupError(TremplinError):
    """A backup or a restore cannot be made, or a backup is incomplete or damaged; the message says which."""


# --- backup --------------------------------------------------------------------------------------


def backup(settings: Settings, target: Path, *, now: datetime, parts: Iterable[str] = PARTS) -> dict[str, Any]:
    """Back up the warehouse and the operational store of ``settings`` into the new folder ``target``."""
    chosen = _parts(parts)
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"backup folder {target} is not empty: give a new folder")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # the stores hold personal data: the backup's owner only
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": now.isoformat(), "code_version": code_version()}
    if "warehouse" in chosen:
        manifest["warehouse"] = _backup_warehouse(settings.warehouse, target / WAREHOUSE_DIR)
    if "opstore" in chosen:
        manifest["opstore"] = _backup_opstore(settings.opstore, target)
    manifest["files"] = {
        path.relative_to(target).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(target.rglob("*"))
        if path.is_file()
    }
    partial = target / f"{MANIFEST}.tmp"
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(partial, target / MANIFEST)  # last, and whole: its presence says the backup is complete
    return manifest


def _backup_warehouse(path: Path, folder: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BackupError(f"no warehouse at {path} (TREMPLIN_WAREHOUSE_PATH, or warehouse.duckdb in TREMPLIN_HOME)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(
            f"cannot open the warehouse {path} ({exc}); a nightly or retention task may hold it: back up outside "
            "the nightly window"
        ) from exc
    try:
        con.execute("begin transaction").fetchall()
        tables = _duckdb_counts(con)
        # a folder path cannot be a bound parameter of EXPORT DATABASE: quoted as a string literal
        con.execute(f"export database {_literal(folder)} (format parquet, compression zstd)").fetchall()
        con.execute("commit").fetchall()
    except duckdb.Error as exc:
        raise BackupError(f"exporting the warehouse {path} to {folder} failed: {exc}") from exc
    finally:
        con.close()
    return {
        "source": str(path),
        "method": "duckdb export database (parquet)",
        "duckdb": duckdb.__version__,
        "tables": tables,
    }


def _backup_opstore(url: str, target: Path) -> dict[str, Any]:
    parsed = _url(url)
    if parsed.get_backend_name() == "sqlite":
        source = _sqlite_path(parsed)
        if not source.is_file():
            raise BackupError(f"no operational store at {source} ({parsed.render_as_string()})")
        tables = _sqlite_copy(source, target / SQLITE_FILE, backing_up=True)
        return {"source": str(source), "backend": "sqlite", "method": "sqlite online backup", "tables": tables}
    if parsed.get_backend_name() == "postgresql":
        dump = target / PG_DUMP_FILE
        engine = sa.create_engine(parsed)
        try:
            # counts and dump from one snapshot: the store keeps taking writes meanwhile
            with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
                snapshot = conn.execute(sa.text("select pg_export_snapshot()")).scalar_one()
                tables = _sql_counts(conn)
                _pg_tool("pg_dump", parsed, ["--format=custom", f"--snapshot={snapshot}", f"--file={dump}"])
        except sa.exc.SQLAlchemyError as exc:
            raise BackupError(f"cannot read the operational store {_shown(parsed)}: {exc}") from exc
        finally:
            engine.dispose()
        return {
            "source": _shown(parsed),
            "backend": "postgresql",
            "method": "pg_dump --format=custom",
            "tables": tables,
        }
    raise BackupError(f"operational store {_shown(parsed)}: only SQLite and PostgreSQL can be backed up")


# --- restore -------------------------------------------------------------------------------------


def verify(source: Path) -> dict[str, Any]:
    """The manifest of a complete, intact backup folder: every file listed is there with its size and SHA-256."""
    source = Path(source)
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} holds no {MANIFEST}: not a backup, or one that did not finish")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{path}: unreadable manifest ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format {manifest.get('format')!r}, this version reads {FORMAT!r}")
    for name, expected in manifest["files"].items():
        file = source / name
        if not file.is_file():
            raise BackupError(f"backup {source} is incomplete: {name} is missing")
        if file.stat().st_size != expected["bytes"] or _sha256(file) != expected["sha256"]:
            raise BackupError(f"backup {source} is damaged: {name} differs from its manifest (size or SHA-256)")
    return manifest


def restore(settings: Settings, source: Path, *, parts: Iterable[str] = PARTS) -> dict[str, Any]:
    """Restore a backup into the warehouse path and operational store URL of ``settings``, which must be new
    (no warehouse file; no SQLite file, or an empty PostgreSQL database): a restore never overwrites a store.
    Returns each restored table's rows, checked against the manifest."""
    chosen = _parts(parts)
    source = Path(source)
    manifest = verify(source)
    absent = [part for part in chosen if part not in manifest]
    if absent:
        raise BackupError(f"backup {source} holds no {' and no '.join(absent)}")
    restored: dict[str, Any] = {"backup": str(source), "created_at": manifest["created_at"]}
    if "warehouse" in chosen:
        restored["warehouse"] = _restore_warehouse(source / WAREHOUSE_DIR, settings.warehouse, manifest["warehouse"])
    if "opstore" in chosen:
        restored["opstore"] = _restore_opstore(source, settings.opstore, manifest["opstore"])
        restored["opstore"]["sms_held_for_lookup"] = hold_waiting_sms(
            settings.opstore, since=datetime.fromisoformat(manifest["created_at"])
        )
    return restored


def hold_waiting_sms(url: str, *, since: datetime) -> int:
    """SMS still waiting in a restored store may have gone out after the backup was taken, and the store cannot
    know. Each is put in "sending" as of the backup, so the next dispatch first asks the provider about it (as
    after a crash): found, it is recorded as sent; not found, it goes back to the queue and is sent once."""
    store = OpStore(url)  # also checks that the restored store has every column this version needs
    try:
        held = 0
        for message in store.due_messages(datetime.max.replace(tzinfo=UTC)):
            held += store.set_status(
                message["message_id"], SENDING, expect=QUEUED, sending_at=since, status_reason="restored"
            )
        return held
    finally:
        store.close()


def _restore_warehouse(folder: Path, path: Path, recorded: Mapping[str, Any]) -> dict[str, Any]:
    if path.exists() or Path(f"{path}.wal").exists():
        raise BackupError(f"warehouse {path} exists: a restore never overwrites one; move it aside first")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.restoring")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(partial))
        try:
            con.execute(f"import database {_literal(folder)}").fetchall()
            tables = _duckdb_counts(con)
            con.execute("checkpoint").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"importing {folder} into {path} failed: {exc}") from exc
    _check_counts("warehouse", tables, recorded["tables"], partial)
    os.replace(partial, path)
    return {"path": str(path), "tables": tables}


def _restore_opstore(source: Path, url: str, recorded: Mapping[str, Any]) -> dict[str, Any]:
    parsed = _url(url)
    backend = parsed.get_backend_name()
    if backend != recorded["backend"]:
        raise BackupError(f"the backup holds a {recorded['backend']} store; {_shown(parsed)} is {backend}")
    if backend == "sqlite":
        path = _sqlite_path(parsed)
        if path.exists():
            raise BackupError(f"operational store {path} exists: a restore never overwrites one; move it aside first")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.restoring")
        partial.unlink(missing_ok=True)
        tables = _sqlite_copy(source / SQLITE_FILE, partial, backing_up=False)
        _check_counts("operational store", tables, recorded["tables"], partial)
        os.replace(partial, path)
        return {"url": _shown(parsed), "tables": tables}
    engine = sa.create_engine(parsed)
    try:
        try:
            existing = sa.inspect(engine).get_table_names()
        except sa.exc.SQLAlchemyError as exc:
            raise BackupError(f"cannot reach {_shown(parsed)} (create the database first): {exc}") from exc
        if existing:
            raise BackupError(
                f"database {_shown(parsed)} is not empty ({len(existing)} tables, e.g. {sorted(existing)[0]}): "
                "restore into a new database"
            )
        # objects owned by the role restoring them (the store's own role), whatever role owned them before
        _pg_tool(
            "pg_restore",
            parsed,
            ["--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", str(source / PG_DUMP_FILE)],
        )
        with engine.connect() as conn:
            tables = _sql_counts(conn)
    finally:
        engine.dispose()
    _check_counts("operational store", tables, recorded["tables"], None)
    return {"url": _shown(parsed), "tables": tables}


# --- helpers -------------------------------------------------------------------------------------


def _parts(parts: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(parts))
    unknown = [part for part in chosen if part not in PARTS]
    if unknown or not chosen:
        raise BackupError(f"parts to back up or restore: {', '.join(PARTS)}; got {', '.join(chosen) or 'none'}")
    return chosen


def _url(url: str) -> URL:
    try:
        return make_url(url)
    except sa.exc.ArgumentError as exc:
        raise BackupError(f"not a database URL: {exc}") from exc


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(f"{_shown(url)}: an in-memory SQLite store cannot be backed up or restored")
    return Path(url.database)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = [row[0] for row in con.execute("select table_name from duckdb_tables() order by table_name").fetchall()]
    counts = {}
    for name in names:
        (count,) = con.execute(f'select count(*) from "{name}"').fetchall()[0]  # names from the catalogue
        counts[name] = int(count)
    return counts


def _sql_counts(conn: sa.Connection) -> dict[str, int]:
    names = sorted(sa.inspect(conn).get_table_names())
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()) for name in names
    }


def _sqlite_copy(source: Path, target: Path, *, backing_up: bool) -> dict[str, int]:
    """Copy a SQLite database through the online backup API (one consistent snapshot, even while other processes
    write); returns the copy's row counts. A backup copy leaves WAL mode, so that it is one self-contained file
    (the store turns WAL on again when it opens the restored one); a backup file is only ever read."""
    try:
        # the live store opened as any of its clients does (a read-only open of a WAL database can fail when no
        # other connection has it open); the backup file read-only
        src = sqlite3.connect(source, timeout=30) if backing_up else sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            if backing_up:
                dst.execute("pragma journal_mode=delete").fetchall()
            (check,) = dst.execute("pragma integrity_check").fetchone()
            if check != "ok":
                raise BackupError(f"the copy of {source} fails SQLite's integrity check: {check}")
            names = [
                row[0]
                for row in dst.execute(
                    "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name"
                )
            ]
            return {name: int(dst.execute(f'select count(*) from "{name}"').fetchone()[0]) for name in names}
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"copying the SQLite store {source} to {target} failed: {exc}") from exc


def _check_counts(what: str, found: Mapping[str, int], recorded: Mapping[str, int], partial: Path | None) -> None:
    if dict(found) != dict(recorded):
        differ = sorted(name for name in set(found) | set(recorded) if found.get(name) != recorded.get(name))
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise BackupError(
            f"restored {what} differs from the backup's manifest in {', '.join(differ)} "
            f"(rows found {[found.get(n) for n in differ]}, recorded {[recorded.get(n) for n in differ]})"
        )


def pg_bindir() -> Path | None:
    """Where pg_dump and pg_restore are: ``TREMPLIN_PG_BIN``, then Debian's newest ``/usr/lib/postgresql/N/bin``
    (a newer pg_dump reads older servers, not the reverse), then PATH."""
    candidates = [Path(os.environ["TREMPLIN_PG_BIN"])] if os.environ.get("TREMPLIN_PG_BIN") else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
        reverse=True,
    )
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "pg_dump").is_file() and (bindir / "pg_restore").is_file():
            return bindir
    return None


def _pg_tool(tool: str, url: URL, args: list[str]) -> None:
    bindir = pg_bindir()
    if bindir is None:
        raise BackupError(
            f"{tool} not found: install PostgreSQL's client programs (Debian: postgresql-client, or "
            "scripts/install-postgres) or set TREMPLIN_PG_BIN"
        )
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)  # never on the command line, where ps shows it
    dbname = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    try:
        done = subprocess.run(
            [str(bindir / tool), f"--dbname={dbname}", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=6 * 3600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{tool} could not run: {exc}") from exc
    if done.returncode != 0:
        raise BackupError(f"{tool} failed on {_shown(url)} (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
