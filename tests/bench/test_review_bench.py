"""``tremplin bench --review`` run small: a seeded store, a real ``tremplin serve``, every page answered 200."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tremplin.bench.review import AGENCIES, TARGET_P95_MS, _Client, _measure, agency_sizes, run
from tremplin.errors import TremplinError

ITEMS, REQUESTS, WARMUP = 2_000, 26, 13


def test_agency_sizes_are_skewed_and_add_up() -> None:
    sizes = agency_sizes(100_000)
    assert len(sizes) == AGENCIES and sum(sizes) == 100_000
    assert sizes == sorted(sizes, reverse=True)
    assert 0.20 <= sizes[0] / 100_000 <= 0.25  # the biggest agency holds about a quarter
    assert sizes[-1] > 0


def test_a_page_that_does_not_answer_200_stops_the_bench() -> None:
    class Failing(_Client):
        def get(self, path: str) -> tuple[requests.Response, float]:
            answer = requests.Response()
            answer.status_code = 500
            answer._content = b"Internal Server Error"
            return answer, 1.0

    with pytest.raises(TremplinError, match="answered 500"):
        _measure(Failing("http://127.0.0.1:9", requests.Session()), iter([("kind", "/queues/to_call")]))


def test_review_bench_small_run_is_merged_into_the_results(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"sms": {"oui_to_queue": {"p95_ms": 6.2}}}))

    result = run(out, items=ITEMS, requests=REQUESTS, warmup=WARMUP, data_dir=data_dir)

    assert result["items"] == ITEMS
    assert result["biggest_agency"] == "FT-07-001"
    assert result["biggest_agency_items"] == agency_sizes(ITEMS)[0]
    assert result["requests"] == REQUESTS and result["all_answered_200"] is True
    assert result["seed_s"] > 0 and result["server_startup_s"] > 0
    for figures in (result["server_ms"], result["wall_ms"]):
        assert 0 < figures["p50"] <= figures["p95"] <= figures["max"]
    assert result["server_ms"]["p50"] <= result["wall_ms"]["max"]
    assert result["target_p95_ms"] == TARGET_P95_MS
    assert result["meets_target"] == (result["server_ms"]["p95"] < TARGET_P95_MS)
    assert result["server_peak_rss_mib"] is None or result["server_peak_rss_mib"] > 0
    kinds = result["per_kind"]
    assert {"to_call_first_page", "commune_name", "vacancy_words", "date_range", "deep_page_50"} <= set(kinds)
    assert sum(k["requests"] for k in kinds.values()) == REQUESTS
    assert all(k["requests"] >= 1 and k["server_ms"]["p50"] > 0 for k in kinds.values())
    # the first page of the biggest agency's to-call queue lists its active items
    assert kinds["to_call_first_page"]["matched_items_p50"] > 0

    written = json.loads(out.read_text())
    assert written["sms"] == {"oui_to_queue": {"p95_ms": 6.2}}
    assert written["review"] == result
