"""tremplin: nightly job matching to ROME 4.0, SMS offers the Match FT way, and counsellor queues."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("tremplin")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"


def code_version(root: Path | None = None) -> str:
    """Package version plus the git commit when run from a checkout (``root``: this package's), for the run
    manifest."""
    root = root or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        # tracked files changed since that commit: a run record must not pass itself off as the commit. The
        # benchmark's own output file is left out, or every benchmark step after the first would be "dirty".
        dirty = (
            subprocess.run(
                ["git", "diff", "--quiet", "HEAD", "--", ".", ":(exclude)bench/results.json"],
                cwd=root,
                timeout=5,
                check=False,
            ).returncode
            == 1
        )
    except (OSError, subprocess.SubprocessError):
        return __version__
    if not commit:
        return __version__
    return f"{__version__}+g{commit}" + (".dirty" if dirty else "")
