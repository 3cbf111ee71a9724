"""A throwaway PostgreSQL cluster on loopback (the tests' store and Airflow metadata, the Airflow benchmark).

``start_own()`` runs initdb into a new temporary directory (trust authentication, superuser ``tremplin``),
starts the server with ``pg_ctl start -w`` on a free port of 127.0.0.1 with durability off (a throwaway
cluster loses nothing worth keeping), and ``Cluster.stop()`` stops it and removes the directory. initdb and
the server refuse to run as root: as root they run as the ``postgres`` system user (made by Debian's
package), which owns the directory. ``connect(url)`` uses a running server instead (a role that may create
databases). ``PostgresUnavailable`` says why there is no server.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg

from tremplin.dev.serve_process import free_port
from tremplin.errors import TremplinError

SUPERUSER = "tremplin"
RUN_AS_ROOT = "postgres"  # the system user Debian's package makes
HINT = "run `make postgres` (Debian's postgresql)"
# a throwaway cluster keeps nothing: no fsync, and the server's clock in Paris so that a store that relied on
# the server's time zone would show it (the store sets UTC on its own connections)
SERVER_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'Europe/Paris'
log_timezone = 'Europe/Paris'
"""
URL_PATTERN = r"postgres(?:ql)?(?:\+psycopg)?://([^@/:]+)@([^/:]+):(\d+)/(\w+)"


class PostgresUnavailable(TremplinError):
    """No PostgreSQL server could be started or reached; the message says why and what to do."""


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: ``TREMPLIN_PG_BIN``, then PATH, then Debian's newest
    ``/usr/lib/postgresql/N/bin``."""
    candidates: list[Path] = []
    if os.environ.get("TREMPLIN_PG_BIN"):
        candidates.append(Path(os.environ["TREMPLIN_PG_BIN"]))
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
        reverse=True,
    )
    candidates.extend(versions)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


class Cluster:
    """A PostgreSQL server we may create and drop databases on (names start with ``prefix``)."""

    def __init__(
        self, host: str, port: int, user: str, *, admin_db: str = "postgres", prefix: str = "tremplin_"
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._admin = psycopg.connect(host=host, port=port, user=user, dbname=admin_db, autocommit=True)
        self._names = itertools.count(1)
        self._prefix = prefix
        self.stop_server: list[str] | None = None  # the command that stops a server we started
        self.root: Path | None = None  # its directory, removed once stopped

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for one of its databases."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"{self._prefix}{next(self._names)}"
        self._admin.execute(f'create database "{name}" template template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, ending the connections left open (pooled engines never disposed of)."""
        self._admin.execute(f'drop database if exists "{name}" with (force)')

    def stop(self) -> None:
        self._admin.close()
        if self.stop_server is not None:
            subprocess.run(self.stop_server, capture_output=True, check=False, timeout=60)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def connect(url: str, *, prefix: str, name: str = "the PostgreSQL URL") -> Cluster:
    """A running server, from ``postgresql://user@host:port/database`` (``name`` says where the URL came from)."""
    found = re.fullmatch(URL_PATTERN, url)
    if not found:
        raise PostgresUnavailable(f"{name}={url!r}: expected postgresql://user@host:port/database")
    user, host, port, db = found.groups()
    try:
        return Cluster(host, int(port), user, admin_db=db, prefix=prefix)
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"cannot reach {name}={url!r}: {exc}") from exc


def start_own(*, prefix: str = "tremplin_", hint: str = HINT) -> Cluster:
    """A new cluster in a temporary directory, on a free loopback port; ``hint`` ends the unavailable message."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(f"no PostgreSQL server here (initdb and pg_ctl not found); {hint}")
    prefix_cmd: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(RUN_AS_ROOT)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root and there is no {RUN_AS_ROOT!r} user to run initdb as; {hint}"
            ) from None
        if not shutil.which("runuser"):
            raise PostgresUnavailable("running as root and runuser (util-linux) is missing: cannot drop to postgres")
        prefix_cmd = ["runuser", "-u", RUN_AS_ROOT, "--"]
    root = Path(tempfile.mkdtemp(prefix="tremplin-pg-", dir=_scratch_dir()))
    data, log = root / "data", root / "server.log"
    pg_ctl = [*prefix_cmd, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        if prefix_cmd:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        # C.UTF-8: code point order like SQLite's, and lower() / ILIKE that know accented letters; plain C where
        # the system lacks it
        for locale in ("C.UTF-8", "C"):
            initdb = [*prefix_cmd, str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust"]
            done = _run([*initdb, "-E", "UTF8", f"--locale={locale}", "--no-sync", "--no-instructions"], "initdb")
            if done.returncode == 0:
                break
            if locale == "C":
                raise PostgresUnavailable(f"initdb failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
            shutil.rmtree(data, ignore_errors=True)
        for attempt in range(3):
            port = free_port()
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(SERVER_CONF.format(port=port, socket_dir=root))
            started = _run([*pg_ctl, "start", "-w", "-t", "60", "-l", str(log)], "pg_ctl start")
            if started.returncode == 0:
                break
            log_tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            if attempt == 2 or "could not bind" not in log_tail:  # another process took the port: try another
                raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log_tail.strip()}")
        try:
            cluster = Cluster("127.0.0.1", port, SUPERUSER, prefix=prefix)
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"the server started but refused a connection: {exc}") from exc
    except BaseException:
        if (data / "postmaster.pid").exists():  # started, or half-started: never leave a server behind
            _run([*pg_ctl, "stop", "-m", "immediate"], "pg_ctl stop")
        shutil.rmtree(root, ignore_errors=True)
        raise
    cluster.stop_server, cluster.root = [*pg_ctl, "stop", "-m", "immediate"], root
    return cluster


def _scratch_dir() -> str | None:
    """/dev/shm when it is a roomy tmpfs (a database made per test costs ~30 ms there, up to ten times more on a
    busy disk); else the usual temporary directory."""
    shm = Path("/dev/shm")
    try:
        roomy = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= 1 << 30
    except OSError:
        roomy = False
    return str(shm) if roomy else None


def _run(command: Sequence[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresUnavailable(f"{what} could not run: {exc}") from exc
