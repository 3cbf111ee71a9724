"""``tremplin bench``: time every nightly step on generated data and write the figures to a JSON file.

Figures go under ``nightly`` / ``<seekers>x<vacancies>`` in the results file; other benchmarks keep their own keys.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.reference import load_reference
from tremplin import code_version, tasks
from tremplin.generate import generate
from tremplin.settings import PROJECT_ROOT, Settings

BENCH_DATE = date(2026, 11, 23)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(settings: Settings, *, seekers: int, vacancies: int, out: Path, seed: int = 7) -> dict[str, Any]:
    home = PROJECT_ROOT / "var" / "bench"
    if home.exists():
        shutil.rmtree(home)
    settings = Settings.from_env(data_dir=settings.data_dir, home=home)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    ref = load_reference(settings.data_dir)
    generate(
        ref,
        seekers=seekers,
        vacancies=vacancies,
        seed=seed,
        out_dir=settings.inbox / BENCH_DATE.isoformat(),
        fmt="parquet",
    )
    steps["generate"] = round(time.perf_counter() - started, 3)
    outputs: dict[str, Any] = {}
    for name, function in tasks.STEPS.items():
        t = time.perf_counter()
        outputs[name] = function(settings, BENCH_DATE)
        steps[name] = round(time.perf_counter() - t, 3)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seekers": seekers,
        "vacancies": vacancies,
        "wall_time_s": steps,
        "total_s": round(time.perf_counter() - started, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "matches": outputs["score"]["matches"],
        "seekers_scored": outputs["score"]["seekers_scored"],
        "routing": outputs["route"],
        "published": outputs["publish"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    existing.setdefault("nightly", {})[f"{seekers}x{vacancies}"] = result
    out.write_text(json.dumps(existing, indent=2) + "\n", encoding="utf-8")
    return result
