"""``tremplin bench --review``: the counsellor queue page's server time on a store of 100,000 queue items.

A fresh SQLite operational store in a temporary directory is filled with ``items`` counsellor queue rows,
their seekers and vacancies, and the "OUI" of every interested item: 40 agencies of skewed sizes (the
biggest holds about a quarter of the items), three queues (to call ~60 %, interested ~30 %, flagged ~10 %),
30 nights, mostly open items and more closed ones among the older nights, real communes of each agency's
département. A counsellor of the biggest agency signs in over HTTP to a real ``tremplin serve`` subprocess
and asks for queue pages in a mix of kinds (each queue's first page, filtered by commune, by vacancy title
words, by date range, sorted by date or commune, deep pages). Per request the server time (the app's
``Server-Timing: app;dur=``) and the client's wall time are kept; p50, p95 and max of both, overall and per
kind, go under ``review`` in the results file (the other sections are kept), with the target: p95 server
time under 200 ms. Only loopback traffic.
"""

from __future__ import annotations

import math
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import requests as http
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import (
    CONTACTED,
    FLAGGED,
    HIRED,
    INTERESTED,
    NOT_INTERESTED,
    OPEN,
    PUT_FORWARD,
    TO_CALL,
    WRONG_MATCH,
    agencies,
    counsellor_queue,
    inbound_messages,
    offer_key,
    published_runs,
    seekers,
    vacancies,
)
from connectors.reference import load_communes
from tremplin.bench.nightly import header as bench_header
from tremplin.bench.nightly import merge_results
from tremplin.bench.sms import percentile
from tremplin.dev.serve_process import free_port, serving_subprocess, wait_healthy
from tremplin.errors import TremplinError
from tremplin.review.accounts import create_user
from tremplin.settings import Settings

SECTION = "review"
TARGET_P95_MS = 200.0
NIGHT = date(2026, 11, 23)  # the last of the nights in the store
NIGHTS = 30
AGENCIES = 40
COMMUNES_PER_AGENCY = 40
CHUNK = 5_000
USERNAME, PASSWORD = "bench.conseiller", "banc-d-essai-file-d-attente"
# The biggest agency first (Ardèche, as in the demo), then 39 others; one agency per département.
DEPARTMENTS = (
    "07", "69", "13", "33", "31", "59", "38", "34", "44", "67", "06", "35", "76", "62", "83", "57", "29", "42",
    "63", "49", "30", "26", "74", "37", "64", "17", "56", "84", "45", "21", "87", "86", "24", "12", "43", "15",
    "48", "19", "23", "46",
)  # fmt: skip
# (title, ROME code): what counsellors search for with a word of the title
TITLES = (
    ("Aide-soignant / Aide-soignante", "J1501"),
    ("Agent / Agente d'entretien des locaux", "K2204"),
    ("Vendeur / Vendeuse en boulangerie-pâtisserie", "D1106"),
    ("Cuisinier / Cuisinière", "G1602"),
    ("Commis de cuisine", "G1602"),
    ("Serveur / Serveuse en restauration", "G1803"),
    ("Préparateur / Préparatrice de commandes", "N1103"),
    ("Chauffeur-livreur / Chauffeuse-livreuse", "N4105"),
    ("Maçon / Maçonne", "F1703"),
    ("Électricien / Électricienne du bâtiment", "F1602"),
    ("Auxiliaire de vie sociale", "K1302"),
    ("Aide à domicile", "K1304"),
    ("Employé / Employée de libre-service", "D1507"),
    ("Hôte / Hôtesse de caisse", "D1505"),
    ("Agent / Agente de sécurité", "K2503"),
    ("Plombier / Plombière chauffagiste", "F1603"),
    ("Ouvrier / Ouvrière agricole", "A1401"),
    ("Secrétaire médical / médicale", "M1609"),
    ("Assistant / Assistante comptable", "M1203"),
    ("Mécanicien / Mécanicienne automobile", "I1604"),
    ("Jardinier / Jardinière paysagiste", "A1203"),
    ("Cariste", "N1101"),
    ("Coiffeur / Coiffeuse", "D1202"),
    ("Agent / Agente de production", "H2102"),
    ("Boucher / Bouchère", "D1101"),
    ("Boulanger / Boulangère", "D1102"),
    ("Animateur / Animatrice enfance", "G1203"),
    ("Peintre en bâtiment", "F1606"),
    ("Infirmier / Infirmière", "J1506"),
    ("Magasinier / Magasinière", "N1103"),
)
TITLE_WORDS = (
    "aide",
    "cuisin",
    "vendeu",
    "agent",
    "boulang",
    "chauffeur",
    "maçon",
    "entretien",
    "auxiliaire",
    "cariste",
)
QUEUE_WEIGHTS = ((TO_CALL, 60), (INTERESTED, 30), (FLAGGED, 10))
TO_CALL_REASONS = (
    ("no_mobile", 35),
    ("rural_low_digital", 25),
    ("no_sms_consent", 15),
    ("declared_preference", 10),
    ("repeated_no_response", 10),
    ("sms_undeliverable", 5),
)
# what an item becomes once a counsellor has worked it (the older the night, the likelier)
WORKED = ((CONTACTED, 35), (PUT_FORWARD, 15), (HIRED, 5), (NOT_INTERESTED, 30), (WRONG_MATCH, 15))
CONTRACTS = (("CDI", "full_time"), ("CDD", "full_time"), ("CDI", "part_time"), ("MIS", "full_time"))
SKILLS = (
    ("100007", "Accueillir une clientèle"),
    ("100008", "Entretenir un espace de travail"),
    ("100009", "Appliquer les règles d'hygiène et de sécurité"),
    ("100010", "Renseigner un document de suivi"),
    ("100011", "Travailler en équipe"),
    ("100012", "Utiliser un outil numérique"),
)
_DURATION = re.compile(r"\bapp;dur=([0-9.]+)")
_TOTAL = re.compile(r'class="count">(\d+) élément')


@dataclass(frozen=True)
class Seeded:
    """What was put in the store, and what the requests pick their filters from."""

    items: int
    biggest_agency: str
    biggest_items: int
    communes: list[tuple[str, str]]  # (INSEE code, name) of the biggest agency
    seconds: float


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def agency_sizes(items: int, agencies: int = AGENCIES) -> list[int]:
    """Items per agency, Zipf-like (weight 1/rank): the first holds about 23 % with 40 agencies; sums to ``items``."""
    weights = [1 / (rank + 1) for rank in range(agencies)]
    total = sum(weights)
    sizes = [math.floor(items * w / total) for w in weights]
    for i in range(items - sum(sizes)):  # the remainder to the biggest ones
        sizes[i % agencies] += 1
    return sizes


def _agency_communes(data_dir: Path) -> dict[str, list[tuple[str, str, float]]]:
    """Per département, its most populous communes: (INSEE code, name, weight ~ sqrt(population))."""
    communes = load_communes(data_dir).filter(pl.col("department").is_in(list(DEPARTMENTS)))
    found: dict[str, list[tuple[str, str, float]]] = {}
    for dep in DEPARTMENTS:
        top = (
            communes.filter(pl.col("department") == dep)
            .sort(["population", "commune"], descending=[True, False])
            .head(COMMUNES_PER_AGENCY)
        )
        if top.height == 0:
            raise TremplinError(f"no commune of département {dep} in the reference data at {data_dir}")
        found[dep] = [
            (str(code), str(name), math.sqrt(max(1, int(pop))))
            for code, name, pop in top.select("commune", "name", "population").iter_rows()
        ]
    return found


def _explanation(rng: random.Random, title: str, rome: str, km: int) -> dict[str, Any]:
    matched = rng.sample(SKILLS, rng.randint(1, 4))
    skill, occupation, distance = round(rng.uniform(0.3, 0.9), 2), rng.choice((1.0, 0.6)), round(1 - km / 60, 2)
    return {
        "sentence": f"{title} à {km} km : {len(matched)} compétences en commun, c'est le métier que vous recherchez.",
        "title": title,
        "rome_code": rome,
        "distance_km": km,
        "occupation_relation": "same_sheet" if occupation == 1.0 else "mobility",
        "matched_skills": [{"code": code, "label": label} for code, label in matched],
        "missing_required_skills": [],
        "components": {"skill": skill, "occupation": occupation, "distance": distance},
    }


def _profile(rng: random.Random, rome: str, title: str, phone: str | None) -> dict[str, Any]:
    return {
        "occupations": [{"code": rome, "label": title}],
        "skills": [{"code": code, "label": label} for code, label in rng.sample(SKILLS, 3)],
        "radius_km": rng.choice((10, 20, 30, 40)),
        "contract_types": ["CDI", "CDD"],
        "working_time": "full_time",
        "driving_licence": rng.random() < 0.7,
        "experience_months": rng.randint(0, 120),
        "sms_consent": phone is not None,
        "preferred_channel": "sms",
        "channel": "counsellor",
        "route_reason": "no_mobile" if phone is None else "rural_low_digital",
    }


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(table), rows[start : start + CHUNK])


def seed_store(store: OpStore, *, items: int, seed: int, data_dir: Path, assignees: list[int]) -> Seeded:
    """Fill ``store`` with ``items`` queue items of 40 agencies, their seekers, vacancies and OUI messages.
    ``assignees`` (user ids of the biggest agency) work some of its items."""
    started = time.perf_counter()
    rng = random.Random(seed)
    communes = _agency_communes(data_dir)
    published = datetime.combine(NIGHT, datetime.min.time(), UTC).replace(hour=5)
    agency_rows: list[dict[str, Any]] = []
    seeker_rows: list[dict[str, Any]] = []
    vacancy_rows: list[dict[str, Any]] = []
    queue_rows: list[dict[str, Any]] = []
    oui_rows: list[dict[str, Any]] = []
    for rank, (dep, size) in enumerate(zip(DEPARTMENTS, agency_sizes(items), strict=True)):
        agency = f"FT-{dep}-001"
        agency_rows.append({"agency_id": agency, "name": f"Agence {communes[dep][0][1]}"})
        places = communes[dep]
        weights = [p[2] for p in places]
        n_seekers = max(1, round(size / 2.5))  # a seeker has a few offers in the queues
        n_vacancies = max(1, round(size / 12))
        if n_seekers * n_vacancies < 2 * size:
            n_vacancies = -(-2 * size // n_seekers)
        seeker_ids = [f"S{dep}{k:07d}" for k in range(n_seekers)]
        for sid in seeker_ids:
            code, name, _w = rng.choices(places, weights=weights)[0]
            title, rome = rng.choice(TITLES)
            phone = None if rng.random() < 0.4 else f"+336399{rng.randrange(100_000):05d}"
            seeker_rows.append(
                {
                    "seeker_id": sid,
                    "agency_id": agency,
                    "phone": phone,
                    "commune": code,
                    "commune_name": name,
                    "profile": _profile(rng, rome, title, phone),
                    "run_date": NIGHT,
                }
            )
        vacancy_info = []
        for k in range(n_vacancies):
            code, name, _w = rng.choices(places, weights=weights)[0]
            title, rome = rng.choice(TITLES)
            contract, working_time = rng.choice(CONTRACTS)
            vid = f"V{dep}{k:06d}"
            vacancy_info.append((vid, title, rome))
            vacancy_rows.append(
                {
                    "vacancy_id": vid,
                    "title": title,
                    "rome_code": rome,
                    "commune": code,
                    "commune_name": name,
                    "contract_type": contract,
                    "working_time": working_time,
                    "positions": rng.choice((1, 1, 1, 2, 3)),
                    "source": "generated",
                    "run_date": NIGHT - timedelta(days=rng.randrange(NIGHTS)),
                }
            )
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < size:
            pairs.add((rng.randrange(n_seekers), rng.randrange(n_vacancies)))
        for s, v in sorted(pairs):
            sid, (vid, title, rome) = seeker_ids[s], vacancy_info[v]
            age = rng.randrange(NIGHTS)  # nights before NIGHT
            night = NIGHT - timedelta(days=age)
            created = published - timedelta(days=age, seconds=rng.randrange(600))
            queue = _weighted(rng, QUEUE_WEIGHTS)
            status = OPEN if rng.random() < 0.9 - 0.015 * age else _weighted(rng, WORKED)
            item_id = offer_key(night, sid, vid)
            worked = status != OPEN
            decided = status in (PUT_FORWARD, HIRED, NOT_INTERESTED, WRONG_MATCH)
            touched = created + timedelta(hours=rng.randint(3, 24 * max(1, age)))
            if queue == INTERESTED:
                reason = "screened" if rng.random() < 0.6 else "replied_oui"
                answered = created + timedelta(hours=5, minutes=rng.randrange(600))
                oui_rows.append(
                    {
                        "message_sid": f"SM{len(oui_rows):032x}",
                        "from_number": f"+336399{rng.randrange(100_000):05d}",
                        "to_number": "+33700000000",
                        "body": rng.choice(("OUI", "Oui", "oui merci", "OUI 1")),
                        "received_at": answered,
                        "intent": "yes",
                        "conversation_id": item_id,
                        "reply_body": None,
                        "opt_out_type": None,
                    }
                )
            elif queue == FLAGGED:
                reason = "unclear_reply" if rng.random() < 0.7 else _weighted(rng, TO_CALL_REASONS)
            else:
                reason = _weighted(rng, TO_CALL_REASONS)
            queue_rows.append(
                {
                    "item_id": item_id,
                    "run_date": night,
                    "agency_id": agency,
                    "seeker_id": sid,
                    "vacancy_id": vid,
                    "queue": queue,
                    "reason": reason,
                    "score": round(0.35 + 0.6 * rng.betavariate(2, 3), 4),
                    "explanation": _explanation(rng, title, rome, rng.randint(1, 40)),
                    "status": status,
                    "conversation_id": item_id if queue == INTERESTED else None,
                    "created_at": created,
                    "updated_at": touched if worked else created,
                    "contacted_at": touched if status in (CONTACTED, PUT_FORWARD, HIRED) else None,
                    "outcome": "reached" if worked else None,
                    "decision_reason": "Ne souhaite pas ce contrat" if status == NOT_INTERESTED else None,
                    "decided_at": touched if decided else None,
                    "assigned_to": rng.choice(assignees) if rank == 0 and worked and assignees else None,
                    "updated_by": None,
                    "version": 2 if worked else 1,
                }
            )
    with store.begin() as conn:
        conn.execute(store.insert_ignore(agencies), agency_rows)
        conn.execute(
            sa.insert(published_runs).values(
                run_date=NIGHT,
                weights={"weight_skill": 0.55, "weight_occupation": 0.25, "weight_distance": 0.2, "min_score": 0.35},
                published_at=published,
            )
        )
        _insert(conn, seekers, seeker_rows)
        _insert(conn, vacancies, vacancy_rows)
        _insert(conn, counsellor_queue, queue_rows)
        _insert(conn, inbound_messages, oui_rows)
    biggest = f"FT-{DEPARTMENTS[0]}-001"
    return Seeded(
        items=len(queue_rows),
        biggest_agency=biggest,
        biggest_items=sum(1 for r in queue_rows if r["agency_id"] == biggest),
        communes=[(code, name) for code, name, _w in communes[DEPARTMENTS[0]]],
        seconds=time.perf_counter() - started,
    )


def request_kinds(rng: random.Random, seeded: Seeded) -> dict[str, Callable[[], str]]:
    """Per kind of request, a maker of its path and query (filters drawn at random among realistic ones)."""
    nights = [NIGHT - timedelta(days=d) for d in range(NIGHTS)]

    def path(queue: str, **params: Any) -> str:
        return f"/queues/{queue}" + (f"?{urlencode(params)}" if params else "")

    def commune_prefix() -> str:
        name = rng.choice(seeded.communes[:20])[1]
        return name[: rng.randint(3, max(3, min(8, len(name))))]

    def week() -> dict[str, str]:
        end = rng.randrange(NIGHTS - 6)
        return {"since": nights[end + 6].isoformat(), "until": nights[end].isoformat()}

    return {
        "to_call_first_page": lambda: path(TO_CALL),
        "interested_first_page": lambda: path(INTERESTED),
        "flagged_first_page": lambda: path(FLAGGED),
        "commune_name": lambda: path(rng.choice((TO_CALL, INTERESTED)), commune=commune_prefix()),
        "commune_code": lambda: path(TO_CALL, commune=rng.choice(seeded.communes[:20])[0]),
        "vacancy_words": lambda: path(rng.choice((TO_CALL, INTERESTED)), vacancy=rng.choice(TITLE_WORDS)),
        "date_range": lambda: path(rng.choice((TO_CALL, INTERESTED)), **week()),
        "sort_date": lambda: path(rng.choice((TO_CALL, INTERESTED)), sort="date"),
        "sort_commune": lambda: path(TO_CALL, sort="commune"),
        "mine": lambda: path(TO_CALL, show="all", mine="true"),
        "closed": lambda: path(rng.choice((TO_CALL, INTERESTED)), show="closed", sort="date"),
        "deep_page_50": lambda: path(TO_CALL, page_number=50),
        "deep_page_50_sort_date": lambda: path(TO_CALL, sort="date", show="all", page_number=50),
    }


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(max(values), 2),
    }


def _peak_rss_mib(pid: int) -> float | None:
    """The server process's peak resident memory (VmHWM on Linux; else its current RSS through psutil)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import psutil

        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except Exception:
        return None


@dataclass
class _Client:
    base_url: str
    session: http.Session

    def get(self, path: str) -> tuple[http.Response, float]:
        started = time.perf_counter()
        answer = self.session.get(self.base_url + path, allow_redirects=False, timeout=60)
        return answer, (time.perf_counter() - started) * 1000

    def sign_in(self, username: str, password: str) -> None:
        form, _ = self.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not found:
            raise TremplinError(f"GET /login answered {form.status_code} without a csrf field")
        answer = self.session.post(
            self.base_url + "/login",
            data={"username": username, "password": password, "csrf": found.group(1), "next": "/queues/to_call"},
            allow_redirects=False,
            timeout=60,
        )
        if answer.status_code != 303 or "tremplin_session" not in self.session.cookies:
            raise TremplinError(f"POST /login answered {answer.status_code}: {answer.text[:200]}")


def _measure(client: _Client, paths: Iterator[tuple[str, str]]) -> list[dict[str, Any]]:
    """GET each (kind, path); the request's server time, wall time and matched-item count. A page that does
    not answer 200 (or lacks the Server-Timing header) stops the benchmark."""
    measured = []
    for kind, path in paths:
        answer, wall_ms = client.get(path)
        if answer.status_code != 200:
            raise TremplinError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        timing = _DURATION.search(answer.headers.get("Server-Timing", ""))
        if timing is None:
            raise TremplinError(f"GET {path}: no Server-Timing app;dur= header")
        total = _TOTAL.search(answer.text)
        measured.append(
            {
                "kind": kind,
                "path": path,
                "server_ms": float(timing.group(1)),
                "wall_ms": wall_ms,
                "matched": int(total.group(1)) if total else None,
            }
        )
    return measured


def run(
    out: Path,
    *,
    items: int = 100_000,
    requests: int = 390,
    warmup: int = 26,
    seed: int = 42,
    data_dir: Path | None = None,
    startup_timeout: float = 60.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seed a fresh store with ``items`` queue items, serve it, time ``requests`` queue pages of the biggest
    agency's counsellor (after ``warmup`` untimed ones), and merge the figures under ``review`` in ``out``."""
    say = log or (lambda _message: None)
    data_dir = data_dir or Settings.from_env().data_dir
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="tremplin-review-bench-") as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'opstore.sqlite'}"
        # Inherited TREMPLIN_* settings would change what is measured: keep only the data dir.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TREMPLIN_") or k == "TREMPLIN_DATA_DIR"}
        env.update(TREMPLIN_HOME=str(home), TREMPLIN_OPSTORE_URL=url)
        store = OpStore(url)
        biggest = f"FT-{DEPARTMENTS[0]}-001"
        made = datetime.combine(NIGHT - timedelta(days=NIGHTS), datetime.min.time(), UTC)
        team = [
            create_user(
                store, username=USERNAME, password=PASSWORD, agency_id=biggest, display_name="Banc Essai", now=made
            )
        ] + [
            create_user(store, username=f"collegue{i}", password=PASSWORD, agency_id=biggest, now=made) for i in (1, 2)
        ]
        say(f"review: seeding {items:,} queue items in 40 agencies...")
        seeded = seed_store(store, items=items, seed=seed, data_dir=data_dir, assignees=[u.user_id for u in team])
        store.close()
        db_mib = (home / "opstore.sqlite").stat().st_size / 2**20
        say(f"review: seeded in {seeded.seconds:.1f} s ({seeded.biggest_items:,} items in {biggest}); serving...")
        kinds = request_kinds(rng, seeded)
        names = list(kinds)
        # every kind as often as the others, in a shuffled order
        order = [names[i % len(names)] for i in range(requests)]
        rng.shuffle(order)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with serving_subprocess(home, port, env, home / "serve.log") as process:
            startup = wait_healthy(base_url, process, home / "serve.log", startup_timeout)
            session = http.Session()
            session.trust_env = False  # loopback must not go through HTTP_PROXY
            client = _Client(base_url, session)
            client.sign_in(USERNAME, PASSWORD)
            load_before = os.getloadavg()[0]
            _measure(client, iter([(names[i % len(names)], kinds[names[i % len(names)]]()) for i in range(warmup)]))
            measured = _measure(client, ((kind, kinds[kind]()) for kind in order))
            rss = _peak_rss_mib(process.pid)
            load_after = os.getloadavg()[0]
            session.close()
    server = [m["server_ms"] for m in measured]
    wall = [m["wall_ms"] for m in measured]
    per_kind: dict[str, Any] = {}
    for kind in names:
        mine = [m for m in measured if m["kind"] == kind]
        matched = sorted(m["matched"] for m in mine if m["matched"] is not None)
        per_kind[kind] = {
            "requests": len(mine),
            "server_ms": _summary([m["server_ms"] for m in mine]),
            "wall_ms": _summary([m["wall_ms"] for m in mine]),
            "matched_items_p50": matched[len(matched) // 2] if matched else None,
            "example": mine[0]["path"] if mine else None,
        }
    p95 = percentile(server, 95) if server else None
    result = {
        **bench_header(items=seeded.items),
        "store": "sqlite (embedded default)",
        "agencies": AGENCIES,
        "nights": NIGHTS,
        "biggest_agency": seeded.biggest_agency,
        "biggest_agency_items": seeded.biggest_items,
        "seed": seed,
        "seed_s": round(seeded.seconds, 2),
        "store_mib": round(db_mib, 1),
        "server_startup_s": round(startup, 2),
        "warmup_requests": warmup,
        "requests": len(measured),
        "all_answered_200": True,  # _measure raises otherwise
        "server_ms": _summary(server),
        "wall_ms": _summary(wall),
        "per_kind": per_kind,
        "server_peak_rss_mib": rss,
        # the machine's 1-minute load average around the timed requests: above the CPU count, other work
        # competed with the server and the times are the worse for it
        "load_average_1m": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": p95 is not None and p95 < TARGET_P95_MS,
    }
    merge_results(out, (SECTION,), result)
    return result
