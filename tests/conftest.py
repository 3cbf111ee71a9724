"""Shared fixtures: the reference data from ../shared/data and per-test stores under tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.reference import REAL_OFFERS_FILE, Reference, cached_reference
from tests.support import pg
from tremplin.settings import PROJECT_ROOT, Settings

pytest_plugins = ["tests.support.sigterm"]  # a terminated run still stops the servers its fixtures started

SHARED_DATA = Path(os.environ.get("TREMPLIN_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
REAL_OFFERS = SHARED_DATA / REAL_OFFERS_FILE


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "rome").is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}; set TREMPLIN_DATA_DIR")
    return SHARED_DATA


@pytest.fixture(scope="session")
def reference(data_dir: Path) -> Reference:
    return cached_reference(str(data_dir))


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path) -> Settings:
    return Settings.from_env({}, data_dir=data_dir, home=tmp_path / "home")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the lowest costs inside the test process (the accounts code and the hash format are the
    same; a served subprocess keeps the real costs). Saves ~0.1 s per account made."""
    from argon2 import PasswordHasher

    from tremplin.review import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs on the test PostgreSQL server (skips when there is none)")


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.Cluster | str]:
    """The session's throwaway PostgreSQL server (tests/support/pg.py), started when a test first asks for it; or, when
    none can be started, why."""
    try:
        cluster = pg.start()
    except pg.PostgresUnavailable as exc:
        yield f"PostgreSQL tests skipped: {exc}"
        return
    try:
        yield cluster
    finally:
        cluster.stop()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def _available(cluster: pg.Cluster | str) -> pg.Cluster:
    if isinstance(cluster, str):
        if os.environ.get("TREMPLIN_REQUIRE_POSTGRES"):
            pytest.fail(cluster)
        pytest.skip(cluster)
    return cluster


@pytest.fixture
def postgres_cluster(postgres: pg.Cluster | str) -> pg.Cluster:
    """The test PostgreSQL server itself; skips without one (fails when TREMPLIN_REQUIRE_POSTGRES is set)."""
    return _available(postgres)


def _store_url(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'opstore.sqlite'}"
        return
    cluster = _available(request.getfixturevalue("postgres"))
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture(params=BACKENDS)
def opstore_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The operational store's URL on each backend: a SQLite file under tmp_path, or a new database on the test
    PostgreSQL server (dropped after the test). Without a server the PostgreSQL case skips and says why, or fails
    when TREMPLIN_REQUIRE_POSTGRES is set."""
    yield from _store_url(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_opstore_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``opstore_url`` for a module-scoped fixture (a whole night run once per module and backend)."""
    yield from _store_url(request, tmp_path_factory.mktemp("opstore"))
