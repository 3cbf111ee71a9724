"""Shared fixtures: the reference data from ../shared/data and per-test stores under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.reference import REAL_OFFERS_FILE, Reference, cached_reference
from tremplin.settings import PROJECT_ROOT, Settings

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

    from review import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
