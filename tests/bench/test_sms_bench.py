"""``tremplin bench --sms`` run small: the limiter is honoured, each offer goes out once, every OUI is queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.optables import QUEUED, SENT
from tests.support.outbox import MONDAY_10H_PARIS
from tremplin.bench.sms import fiction_number, offer_bodies, outbox_rows, percentile, run_sms_bench

MESSAGES, RATE, OFFERS = 200, 200.0, 20
# The limiter spaces the calls by 1/rate; a few per cent covers clock granularity, never a missing limiter
# (without one, 200 loopback calls take far less than a second).
RATE_TOLERANCE = 1.03


def test_bodies_and_numbers_are_realistic_and_distinct() -> None:
    # offer_bodies(500) raises itself unless its texts are distinct, GSM-7 and exactly 2 segments.
    bodies = offer_bodies(500)
    assert all(b.startswith("TREMPLIN: offre ") and "OUI ou NON" in b for b in bodies)
    # the first: title 0, commune 0, 1 km, contract 0, 2 skills; 179 characters (16 + 16 + 3 + 6 + 9 + 17
    # + 40 + 15 + 30 + 27), so 2 segments of GSM-7 (é and à are in its basic table)
    assert bodies[0] == (
        "TREMPLIN: offre Aide-soignant(e) à Privas (1 km), CDI temps plein. "
        "Elle correspond à 2 de vos compétences. Intéressé(e) ? Répondez OUI ou NON (réf. 1). "
        "STOP pour ne plus recevoir."
    )
    numbers = [fiction_number(i) for i in (0, 1, 9_999)]
    assert numbers == ["+33639980000", "+33639980001", "+33639989999"]
    with pytest.raises(ValueError):
        fiction_number(10_000)  # outside the ARCEP fiction range
    queued, sent = outbox_rows(3, status=QUEUED, at=MONDAY_10H_PARIS), outbox_rows(3, status=SENT, at=MONDAY_10H_PARIS)
    assert [r["provider_sid"] for r in queued] == [None] * 3
    assert len({r["provider_sid"] for r in sent}) == 3 and all(r["sent_at"] for r in sent)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([3.0], 95) == 3.0


def test_sms_bench_small_run_is_merged_into_the_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"nightly": {"20000x5000": {"total_s": 12.5}}, "sms": {"older": {"kept": True}}}))

    result = run_sms_bench(out, messages=MESSAGES, rate_per_second=RATE, offers=OFFERS)

    sending = result["send_throughput"]
    assert sending["messages"] == MESSAGES and sending["rate_limit_per_second"] == RATE
    assert sending["sent"] == MESSAGES
    assert sending["outbox_status"] == {"sent": MESSAGES}
    assert sending["requests_received"] == MESSAGES  # POSTs: no retry, no double send
    assert sending["duplicates"] == 0
    assert 0 < sending["messages_per_second"] <= RATE * RATE_TOLERANCE
    assert 0 < sending["calls_per_second_in_span"] <= RATE * RATE_TOLERANCE
    assert sending["wall_seconds"] >= (MESSAGES - 1) / RATE / RATE_TOLERANCE
    assert 0 < sending["call_latency_ms"]["p50"] <= sending["call_latency_ms"]["p95"]
    assert sending["peak_rss_mib"] > 0

    oui = result["oui_to_queue"]
    assert oui["errors"] == []
    assert oui["offers"] == OFFERS and oui["count"] == OFFERS and oui["queue_rows"] == OFFERS
    assert 0 < oui["p50_ms"] <= oui["p95_ms"] <= oui["max_ms"]
    assert 0 < oui["http_round_trip_p50_ms"] <= oui["max_ms"]

    written = json.loads(out.read_text())
    assert written["nightly"] == {"20000x5000": {"total_s": 12.5}}
    assert written["sms"]["older"] == {"kept": True}
    assert written["sms"]["send_throughput"] == sending
    assert written["sms"]["oui_to_queue"] == oui
