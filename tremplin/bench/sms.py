"""``tremplin bench --sms``: how fast offers go out through the official twilio client, and how fast an OUI
reaches the counsellor queue. Figures go under ``sms`` in the results file (``send_throughput`` and
``oui_to_queue``); the other sections are kept.

* Sending throughput: a fresh SQLite operational store in a temporary directory, queued 2-segment GSM-7 offers
  to distinct fiction-range numbers, a ``FakeTwilio`` on loopback, and ``dispatch`` with ``TwilioGateway``
  at ``sms_rate_per_second``. The expected pace is the rate limit itself, never above it.
* OUI to counsellor queue: a real ``tremplin serve`` subprocess on the embedded default store (SQLite), sent
  offers seeded in its store, one signed inbound "OUI" per offer, and the time until the "interested"
  queue row is visible from this process.

Only loopback traffic: nothing leaves the machine and no real number is used (ARCEP fiction range).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import INTERESTED, QUEUED, SENT, counsellor_queue, sms_outbox
from connectors.sms import SentMessage, SmsGateway
from tremplin.bench.nightly import header as bench_header
from tremplin.bench.nightly import merge_results, peak_rss_mib
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.dev.serve_process import free_port, serving_subprocess, wait_healthy
from tremplin.settings import Settings
from tremplin.sms.dispatch import dispatch
from tremplin.sms.text import MAX_OFFER_SEGMENTS, encoding, render_offer, segments
from tremplin.sms.webhooks import INBOUND_PATH

SECTION = "sms"
MONDAY_10H_PARIS = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # inside the send window
RUN_DATE = MONDAY_10H_PARIS.date()
SENDER = "TREMPLIN"
# ARCEP reserves 06 39 98 00 00 to 06 39 98 99 99 for fiction: 10,000 numbers that reach nobody.
FICTION_PREFIX = "+3363998"
FICTION_NUMBERS = 10_000
OUI_TARGET_MS = 1_000.0

_TITLES = (
    "Aide-soignant(e)",
    "Agent(e) d'entretien",
    "Vendeur(se) en boulangerie",
    "Cuisinier(ère)",
    "Serveur(se) en restauration",
    "Préparateur(trice) de commandes",
    "Chauffeur(se) livreur",
    "Maçon(ne)",
    "Électricien(ne) du bâtiment",
    "Auxiliaire de vie",
    "Employé(e) polyvalent(e)",
    "Caissier(ère)",
    "Agent(e) de sécurité",
    "Plombier(ère) chauffagiste",
    "Ouvrier(ère) agricole",
    "Secrétaire médical(e)",
    "Assistant(e) comptable",
    "Mécanicien(ne) auto",
    "Jardinier(ère) paysagiste",
    "Magasinier(ère) cariste",
    "Coiffeur(se)",
    "Agent(e) de production",
    "Boucher(ère)",
    "Animateur(trice) enfance",
    "Peintre en bâtiment",
)
_COMMUNES = (
    "Privas",
    "Aubenas",
    "Annonay",
    "Tournon-sur-Rhône",
    "Guilherand-Granges",
    "Le Teil",
    "Bourg-Saint-Andéol",
    "Largentière",
    "Lamastre",
    "Vals-les-Bains",
    "Saint-Péray",
    "Le Pouzin",
    "La Voulte-sur-Rhône",
    "Joyeuse",
    "Les Vans",
    "Villeneuve-de-Berg",
    "Viviers",
    "Cruas",
    "Lalevade-d'Ardèche",
    "Satillieu",
)
_DISTANCES = 40  # 1 km to 40 km
_CONTRACTS = (("CDI", "temps plein"), ("CDD 6 mois", "temps plein"), ("CDI", "temps partiel"), ("Intérim", "35 h"))


def fiction_number(index: int) -> str:
    """The ``index``-th mobile number of the ARCEP fiction range (+33 6 39 98 00 00 to +33 6 39 98 99 99)."""
    if not 0 <= index < FICTION_NUMBERS:
        raise ValueError(f"the fiction range holds {FICTION_NUMBERS} numbers, asked for number {index}")
    return f"{FICTION_PREFIX}{index:04d}"


def offer_bodies(count: int) -> list[str]:
    """``count`` distinct offer texts as the nightly run writes them: French, GSM-7, exactly 2 segments."""
    capacity = len(_TITLES) * len(_COMMUNES) * _DISTANCES
    if count > capacity:
        raise ValueError(f"at most {capacity} distinct bodies, asked for {count}")
    bodies = []
    for i in range(count):
        # Mixed radix over (title, commune, distance): distinct by construction, varied from one to the next.
        title = _TITLES[i % len(_TITLES)]
        commune = _COMMUNES[(i // len(_TITLES)) % len(_COMMUNES)]
        distance = 1 + (i // (len(_TITLES) * len(_COMMUNES))) % _DISTANCES
        contract, hours = _CONTRACTS[i % len(_CONTRACTS)]
        bodies.append(
            render_offer(
                title=title,
                commune=commune,
                distance_km=distance,
                contract=contract,
                hours=hours,
                matched_skills=2 + i % 5,
                sender=SENDER,
            )
        )
    # render_offer may shorten a title, which could make two texts equal: check rather than assume.
    if len(set(bodies)) != count or any(segments(b) != MAX_OFFER_SEGMENTS or encoding(b) != "GSM-7" for b in bodies):
        raise AssertionError("offer bodies must be distinct, GSM-7 and exactly 2 segments")
    return bodies


def outbox_rows(count: int, *, status: str, at: datetime) -> list[dict[str, Any]]:
    """``count`` outbox rows for distinct seekers and numbers; sent ones carry a provider sid and times."""
    sent = status == SENT
    return [
        {
            "message_id": f"{RUN_DATE.isoformat()}:S{i:05d}:V{i:05d}",
            "run_date": RUN_DATE,
            "seeker_id": f"S{i:05d}",
            "vacancy_id": f"V{i:05d}",
            "agency_id": "FT-07-001",
            "to_number": fiction_number(i),
            "reply_ref": 1,
            "body": body,
            "segments": segments(body),
            "encoding": encoding(body),
            "score": 0.5 + (i % 50) / 100,
            "explanation": {"title": _TITLES[i % len(_TITLES)]},
            "status": status,
            "attempts": 1 if sent else 0,
            "not_before": at - timedelta(hours=1),
            "created_at": at - timedelta(hours=10),
            "sending_at": at - timedelta(minutes=5) if sent else None,
            "sent_at": at - timedelta(minutes=5) if sent else None,
            "status_at": at - timedelta(minutes=5) if sent else None,
            "provider_sid": f"SM{i:032x}" if sent else None,
        }
        for i, body in enumerate(offer_bodies(count))
    ]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


class _TimedGateway:
    """Wraps a gateway to time each ``send`` call (the HTTP round trip through the twilio client)."""

    def __init__(self, inner: SmsGateway) -> None:
        self.inner = inner
        self.starts: list[float] = []
        self.seconds: list[float] = []

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        started = time.perf_counter()
        try:
            return self.inner.send(to=to, body=body, idempotency_key=idempotency_key)
        finally:
            self.starts.append(started)
            self.seconds.append(time.perf_counter() - started)

    def find(self, *, to: str, body: str, idempotency_key: str) -> SentMessage | None:
        return self.inner.find(to=to, body=body, idempotency_key=idempotency_key)


def send_throughput(*, messages: int = 10_000, rate_per_second: float = 100.0) -> dict[str, Any]:
    """Dispatch ``messages`` queued offers to a loopback FakeTwilio at ``rate_per_second``; return the figures.

    ``messages_per_second`` is over the whole ``dispatch`` call (store reads included);
    ``calls_per_second_in_span`` is over the first to the last provider call, which is what the limiter
    bounds: n calls need at least (n - 1) intervals. ``duplicates`` counts extra POSTs for the same To and
    Body (0 when each offer went out exactly once).
    """
    header = bench_header()
    with tempfile.TemporaryDirectory(prefix="tremplin-sms-bench-") as tmp:
        # An empty environment: the bench measures the embedded SQLite store, whatever TREMPLIN_* says.
        settings = Settings.from_env({}, home=Path(tmp), sms_rate_per_second=rate_per_second, sms_sender=SENDER)
        store = OpStore(settings.opstore)
        store.insert_ignoring_duplicates(sms_outbox, outbox_rows(messages, status=QUEUED, at=MONDAY_10H_PARIS))
        with FakeTwilio() as fake:
            gateway = _TimedGateway(fake.gateway(settings.sms_sender))
            started = time.perf_counter()
            counts = dispatch(settings, now=MONDAY_10H_PARIS, gateway=gateway)
            wall = time.perf_counter() - started
            # Each request is recorded before it is answered, so all of them are in by now.
            posts = fake.posts
        outbox = store.count_by_status()
        store.close()
    per_message = Counter((str(r.get("To")), str(r.get("Body"))) for r in posts)
    span = gateway.starts[-1] - gateway.starts[0] if len(gateway.starts) > 1 else 0.0
    return {
        **header,
        "messages": messages,
        "rate_limit_per_second": rate_per_second,
        "wall_seconds": round(wall, 3),
        "messages_per_second": round(counts["sent"] / wall, 2) if wall else None,
        "send_span_seconds": round(span, 3),
        "calls_per_second_in_span": round((len(gateway.starts) - 1) / span, 2) if span else None,
        "sent": counts["sent"],
        "dispatch": counts,
        "outbox_status": outbox,
        "requests_received": len(posts),
        "duplicates": sum(n - 1 for n in per_message.values()),
        "call_latency_ms": {
            "p50": _ms(percentile(gateway.seconds, 50)) if gateway.seconds else None,
            "p95": _ms(percentile(gateway.seconds, 95)) if gateway.seconds else None,
            "max": _ms(max(gateway.seconds)) if gateway.seconds else None,
        },
        "segments_per_message": MAX_OFFER_SEGMENTS,
        "encoding": "GSM-7",
        "peak_rss_mib": round(peak_rss_mib(), 1),  # this process's peak so far
    }


def oui_to_queue_latency(
    *, offers: int = 200, timeout_per_offer: float = 10.0, startup_timeout: float = 60.0
) -> dict[str, Any]:
    """Time a signed inbound "OUI" to a real ``tremplin serve`` until its "interested" queue row is visible.

    Offers are answered one at a time; each latency runs from just before the webhook POST to the first
    poll of the store (from this process) that sees the row. ``visible_when_answered`` counts rows already
    there at the first poll after the HTTP answer (the row is written in the transaction that stores the
    inbound message, before the answer).
    """
    header = bench_header()
    fake = FakeTwilio()  # not started: only its credentials and its signed inbound POSTs are used
    with tempfile.TemporaryDirectory(prefix="tremplin-sms-oui-") as tmp:
        home = Path(tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        # Inherited TREMPLIN_* settings (an opstore URL, say) would change what is measured: keep only the data dir.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TREMPLIN_") or k == "TREMPLIN_DATA_DIR"}
        env.update(
            TREMPLIN_HOME=str(home),
            TREMPLIN_TWILIO_AUTH_TOKEN=fake.auth_token,
            TREMPLIN_PUBLIC_BASE_URL=base_url,
        )
        store = OpStore(Settings.from_env(env).opstore)  # the URL the server computes from the same env
        rows = outbox_rows(offers, status=SENT, at=datetime.now(UTC))
        store.insert_ignoring_duplicates(sms_outbox, rows)
        found = sa.select(counsellor_queue.c.item_id).where(
            counsellor_queue.c.seeker_id == sa.bindparam("seeker"), counsellor_queue.c.queue == INTERESTED
        )

        def queued(seeker: str) -> bool:
            with store.begin() as conn:
                return conn.execute(found, {"seeker": seeker}).first() is not None

        latencies: list[float] = []
        round_trips: list[float] = []
        visible_when_answered = 0
        errors: list[str] = []
        with serving_subprocess(home, port, env, home / "serve.log") as process:
            startup = wait_healthy(base_url, process, home / "serve.log", startup_timeout)
            url = base_url + INBOUND_PATH
            for row in rows:
                t0 = time.perf_counter()
                status, answer = fake.inbound(url, from_=row["to_number"], body="OUI")
                answered = time.perf_counter()
                if status != 200:
                    errors.append(f"{row['seeker_id']}: HTTP {status} {answer[:200]}")
                    continue
                round_trips.append(answered - t0)
                seen = queued(row["seeker_id"])
                visible_when_answered += seen
                while not seen and time.perf_counter() - t0 < timeout_per_offer:
                    time.sleep(0.001)
                    seen = queued(row["seeker_id"])
                if seen:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors.append(f"{row['seeker_id']}: no interested queue row after {timeout_per_offer} s")
        queue_rows = store.count(counsellor_queue)
        store.close()
    return {
        **header,
        "store": "sqlite (embedded default)",
        "offers": offers,
        "count": len(latencies),
        "queue_rows": queue_rows,
        "p50_ms": _ms(percentile(latencies, 50)) if latencies else None,
        "p95_ms": _ms(percentile(latencies, 95)) if latencies else None,
        "max_ms": _ms(max(latencies)) if latencies else None,
        "http_round_trip_p50_ms": _ms(percentile(round_trips, 50)) if round_trips else None,
        "visible_when_answered": visible_when_answered,
        "target_ms": OUI_TARGET_MS,
        "max_under_target": bool(latencies) and max(latencies) * 1000 < OUI_TARGET_MS,
        "server_startup_s": round(startup, 2),
        "errors": errors[:20],
    }


def run_sms_bench(
    out: Path,
    *,
    messages: int = 10_000,
    rate_per_second: float = 100.0,
    offers: int = 200,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run both SMS measurements and merge them under ``sms`` in ``out`` (other sections kept).

    Each measurement is written as soon as it is done, so a failure in the second keeps the first.
    Returns ``{"send_throughput": ..., "oui_to_queue": ...}``, what was written.
    """
    say = log or (lambda _message: None)
    say(f"sms: dispatching {messages} messages at {rate_per_second:g}/s to a loopback fake Twilio...")
    sending = send_throughput(messages=messages, rate_per_second=rate_per_second)
    merge_results(out, (SECTION, "send_throughput"), sending)
    say(f"sms: {sending['sent']} sent in {sending['wall_seconds']} s; {offers} OUI to tremplin serve...")
    oui = oui_to_queue_latency(offers=offers)
    merge_results(out, (SECTION, "oui_to_queue"), oui)
    return {"send_throughput": sending, "oui_to_queue": oui}
