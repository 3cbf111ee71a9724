"""The code version in run records: the commit, marked dirty when code changed, not when a benchmark wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tremplin import __version__, code_version


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def test_dirty_means_code_changed_since_the_commit(tmp_path: Path) -> None:
    assert code_version(tmp_path) == __version__  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results.json").write_text("{}\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    clean = f"{__version__}+g{_git(tmp_path, 'rev-parse', '--short', 'HEAD')}"
    assert code_version(tmp_path) == clean
    (tmp_path / "bench" / "results.json").write_text('{"nightly": {}}\n')  # a benchmark step wrote its figures
    assert code_version(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert code_version(tmp_path) == clean + ".dirty"
