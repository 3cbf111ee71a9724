"""``make bench``'s scale section run small: every step in its own process, the publish step again into
PostgreSQL with as many rows as into SQLite, the naive sample, all merged into the results file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import pg
from tremplin.bench.nightly import FIGURE_STEPS, SCALE_STEPS, run_scale
from tremplin.settings import Settings


@pytest.mark.postgresql
def test_scale_bench_small_run(tmp_path: Path, data_dir: Path, postgres_cluster: pg.Cluster) -> None:
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"quality": {"kept": True}}))
    settings = Settings.from_env(data_dir=data_dir, home=tmp_path / "unused")
    run_scale(settings, seekers=4000, vacancies=1000, out=out, sample=(2000, 500), home=tmp_path / "scale")

    results = json.loads(out.read_text())
    assert results["quality"] == {"kept": True}  # other sections stay
    scale = results["scale"]["4000x1000"]
    assert set(scale["steps"]) == {"generate", *SCALE_STEPS}
    assert all(scale["steps"][step]["wall_s"] > 0 for step in SCALE_STEPS)
    figure_steps = sum(scale["steps"][step]["wall_s"] for step in FIGURE_STEPS)
    assert scale["figure_steps_wall_s"] == pytest.approx(figure_steps, abs=0.01)
    published = scale["published"]
    assert published["sms_added"] > 0 and published["queue_added"] > 0
    postgresql = scale["publish_postgresql"]
    assert postgresql["same_counts_as_sqlite"] is True
    assert (postgresql["sms_added"], postgresql["queue_added"], postgresql["seekers_published"]) == (
        published["sms_added"],
        published["queue_added"],
        published["seekers_published"],
    )
    assert postgresql["wall_s"] > 0
    naive = scale["naive_vs_tremplin"]
    assert naive["seekers"] == 2000 and naive["vacancies"] == 500
    assert naive["tremplin_matches"] > 10
    assert naive["same_seeker_vacancy_rank"] == naive["tremplin_matches"] == naive["naive_matches"]
