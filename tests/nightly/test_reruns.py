"""Safe re-runs and backfills, through the functions the Airflow tasks call (``tremplin.nightly.tasks``).

Clearing a task and its downstream gives the same warehouse and operational store; publishing twice adds
nothing; a dispatch re-run, at the same moment or after a crash mid-way, texts each seeker once; a past night
run after a later one reads its own inbox, leaves the later night alone and repeats none of its offers; and a
night's results are functions of its date, not of the machine's clock. Real DuckDB files, real stores (SQLite
and PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import sqlalchemy as sa
import time_machine

from connectors.opstore import OpStore
from connectors.optables import SENDING, SENT, metadata, sms_outbox
from connectors.reference import Reference
from connectors.sms import RecordingGateway, SentMessage
from connectors.warehouse import CREATE_STATEMENTS, Warehouse
from tests.conftest import REAL_OFFERS
from tests.support.clock import night_of
from tremplin.dev.airflow_runner import settings_env
from tremplin.dev.generate import generate
from tremplin.nightly import publish, tasks
from tremplin.settings import PROJECT_ROOT, Settings
from tremplin.sms.dispatch import dispatch, dispatch_now

NIGHT = date(2026, 11, 23)  # a Monday
WAREHOUSE_TABLES = sorted(name.removeprefix("create_") for name in CREATE_STATEMENTS)
# When a step ran, not what it found: the run id, recorded times, and step results holding timings in seconds
RUN_TIMES = {"run_manifest": ("run_id", "started_at", "finished_at"), "run_steps": ("finished_at", "result_json")}
# The operational store's recorded times (a feed closure is written again, with its time, at each publish)
STORE_TIMES = {
    "sms_outbox": ("created_at",),
    "counsellor_queue": ("created_at",),
    "vacancy_closures": ("created_at",),
    "published_runs": ("published_at",),
}


def warehouse_rows(settings: Settings, ignore: Mapping[str, tuple[str, ...]] = RUN_TIMES) -> dict[str, pl.DataFrame]:
    """Every warehouse table, sorted, without the columns named in ``ignore``."""
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {name: wh.table(name).drop(ignore.get(name, ())).sort(pl.all()) for name in WAREHOUSE_TABLES}


def store_rows(settings: Settings, ignore: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, list[dict]]:
    """Every operational-store table as rows sorted by primary key, without the columns named in ``ignore``."""
    store = OpStore(settings.opstore)
    try:
        out = {}
        for table in metadata.sorted_tables:
            skip = (ignore or {}).get(table.name, ())
            keys = [column.name for column in table.primary_key.columns]
            rows = sorted(store.table_rows(table), key=lambda r: tuple(str(r[k]) for k in keys))
            out[table.name] = [{k: v for k, v in row.items() if k not in skip} for row in rows]
        return out
    finally:
        store.close()


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for name, rows in before.items():
        if isinstance(rows, pl.DataFrame):
            assert rows.equals(after[name]), name
        else:
            assert rows == after[name], name


def use_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The settings as the Airflow tasks read them: TREMPLIN_* variables only."""
    for name in list(os.environ):
        if name.startswith("TREMPLIN_"):
            monkeypatch.delenv(name)
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)


def rerun_from(step: str, ds: str) -> None:
    """Clear ``step`` and everything downstream, as Airflow's "clear with downstream" does, and run them again
    in the DAG's order (score = plan_shards, score_shard mapped over the shards, merge_shards)."""
    order = ["sync_feedback", "ingest", "normalize", "score", "route", "publish", "summary"]
    for name in order[order.index(step) :]:
        if name == "score":
            for shard in tasks.plan_shards(ds):
                tasks.score_shard(ds, shard)
            tasks.merge_shards(ds)
        else:
            tasks.run_step(name, ds)


def new_settings(home: Path, data_dir: Path, opstore_url: str | None = None) -> Settings:
    return Settings.from_env({}, data_dir=data_dir, home=home, opstore_url=opstore_url, sms_rate_per_second=0.0)


def fill_inbox(reference: Reference, day: Path) -> None:
    """The night's files: 3,000 seekers and 800 vacancies (seed 11), and the real France Travail offers."""
    generate(reference, seekers=3_000, vacancies=800, seed=11, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")


@pytest.fixture(scope="module")
def night(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path, module_opstore_url: str
) -> Settings:
    settings = new_settings(tmp_path_factory.mktemp("reruns"), data_dir, module_opstore_url)
    fill_inbox(reference, settings.inbox / NIGHT.isoformat())
    tasks.run_night(settings, NIGHT)
    return settings


# --- clearing tasks ------------------------------------------------------------------------------


def test_clearing_ingest_and_downstream_gives_the_same_stores(night: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, night)
    warehouse, store = warehouse_rows(night), store_rows(night, {"vacancy_closures": ("created_at",)})
    manifest_before = warehouse_rows(night, {})["run_manifest"].row(0, named=True)
    assert warehouse["matches"].height > 0 and len(store["sms_outbox"]) > 0 and len(store["counsellor_queue"]) > 0
    rerun_from("ingest", NIGHT.isoformat())
    assert_same(warehouse, warehouse_rows(night))
    assert_same(store, store_rows(night, {"vacancy_closures": ("created_at",)}))
    # the manifest is the same record but for when it ran: a new run id, a later start
    manifest = warehouse_rows(night, {})["run_manifest"].row(0, named=True)
    assert manifest["run_id"] != manifest_before["run_id"]
    assert manifest["started_at"] > manifest_before["started_at"]
    assert {row["step"] for row in warehouse_rows(night, {})["run_steps"].iter_rows(named=True)} == set(tasks.STEPS)


def test_clearing_one_shard_then_merge_gives_the_same_matches(night: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, night)
    before = warehouse_rows(night)
    folder = night.home / "shards" / NIGHT.isoformat()
    shards = json.loads((folder / "plan.json").read_text(encoding="utf-8"))["shards"]
    assert len(shards) >= 1
    target = folder / f"matches-{shards[-1]:04d}.parquet"
    written = pl.read_parquet(target)
    # a score_shard retried after a crash that left its file behind, then merge_shards and the rest again
    tasks.score_shard(NIGHT.isoformat(), shards[-1])
    assert pl.read_parquet(target).equals(written)
    tasks.merge_shards(NIGHT.isoformat())
    for step in ("route", "publish", "summary"):
        tasks.run_step(step, NIGHT.isoformat())
    assert_same(before, warehouse_rows(night))


def test_clearing_route_alone_rewrites_the_same_decisions(night: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, night)
    before = warehouse_rows(night)
    result = tasks.run_step("route", NIGHT.isoformat())
    after = warehouse_rows(night)
    assert_same(before, after)
    routing = after["routing"]
    assert result["seekers"] == routing.height
    assert result.get("sms", 0) == routing.filter(pl.col("channel") == "sms").height > 0


# --- publish -------------------------------------------------------------------------------------


def test_publishing_twice_adds_nothing_and_changes_nothing(night: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, night)
    before = store_rows(night, {"vacancy_closures": ("created_at",)})
    first = tasks.run_step("publish", NIGHT.isoformat())
    second = tasks.run_step("publish", NIGHT.isoformat())
    for result in (first, second):
        assert (result["sms_added"], result["queue_added"], result["offers_not_published"]) == (0, 0, 0)
        assert result["sms_offers"] == len(before["sms_outbox"])
        assert result["queue_offers"] == len(before["counsellor_queue"])
    assert_same(before, store_rows(night, {"vacancy_closures": ("created_at",)}))
    # the first publish time of the night is kept
    (published,) = before["published_runs"]
    assert published["run_date"] == NIGHT


def test_an_interrupted_publish_never_gives_a_seeker_a_second_offer_that_night(
    night: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish that did not finish, re-run after the routing changed (here: one seeker's offer moved to another
    of their matches, as a re-route could after the store moved on): that seeker keeps the offer already
    written; nothing else changes."""
    use_env(monkeypatch, night)
    before = store_rows(night)
    with Warehouse.open(night.warehouse) as wh:
        routing = wh.table("routing").filter(pl.col("channel") == "sms")
        matches = wh.table("matches")
        other = (
            matches.join(routing.select("seeker_id", pl.col("vacancy_id").alias("offered")), on="seeker_id")
            .filter(pl.col("vacancy_id") != pl.col("offered"))
            .sort("seeker_id", "rank")
            .row(0, named=True)
        )
        wh.con.execute(
            "update routing set vacancy_id = ? where run_date = ? and seeker_id = ?",
            [other["vacancy_id"], NIGHT, other["seeker_id"]],
        ).fetchall()
        wh.con.execute("delete from run_steps where run_date = ? and step = 'publish'", [NIGHT]).fetchall()
    try:
        result = publish.publish(night, NIGHT)
        assert (result["sms_added"], result["queue_added"], result["offers_not_published"]) == (0, 0, 1)
        after = store_rows(night)
        assert after["sms_outbox"] == before["sms_outbox"]
        assert after["counsellor_queue"] == before["counsellor_queue"]
    finally:
        tasks.run_step("route", NIGHT.isoformat())  # the night's own routing again, and its publish recorded
        tasks.run_step("publish", NIGHT.isoformat())


# --- dispatch ------------------------------------------------------------------------------------


class Crash(BaseException):
    """The dispatching process dies (killed, out of memory): not an SMS error, nothing catches it."""


class CrashingGateway:
    """Passes sends to ``inner``; the ``at``-th send crashes the process, after the provider took the message
    (``after_call``) or before it reached it."""

    def __init__(self, inner: RecordingGateway, *, at: int, after_call: bool) -> None:
        self.inner, self.at, self.after_call, self.calls = inner, at, after_call, 0

    def send(self, *, to: str, body: str, idempotency_key: str) -> SentMessage:
        self.calls += 1
        if self.calls == self.at and not self.after_call:
            raise Crash(idempotency_key)
        sent = self.inner.send(to=to, body=body, idempotency_key=idempotency_key)
        if self.calls == self.at:
            raise Crash(idempotency_key)
        return sent

    def find(self, *, to: str, body: str, idempotency_key: str) -> SentMessage | None:
        return self.inner.find(to=to, body=body, idempotency_key=idempotency_key)


def status_of(settings: Settings, message_id: str) -> str:
    store = OpStore(settings.opstore)
    try:
        with store.begin() as conn:
            return str(
                conn.execute(sa.select(sms_outbox.c.status).where(sms_outbox.c.message_id == message_id)).scalar()
            )
    finally:
        store.close()


def test_dispatch_reruns_after_crashes_and_at_the_same_moment_text_each_seeker_once(
    night: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, night)
    provider = RecordingGateway()  # not idempotent: a second send of a message would show
    moment = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Paris
    queued = {row["message_id"]: row["seeker_id"] for row in store_rows(night)["sms_outbox"]}
    assert len(queued) > 20
    # 1. the process dies on its 3rd message, after the provider took it: 2 recorded sent, the 3rd left "sending"
    with pytest.raises(Crash) as taken:
        dispatch(night, now=moment, gateway=CrashingGateway(provider, at=3, after_call=True))
    taken_id = str(taken.value)
    assert status_of(night, taken_id) == SENDING and len(provider.sent) == 3
    # 2. re-run at the same moment: it dies on its 2nd message, before the provider got it
    with pytest.raises(Crash) as lost:
        dispatch(night, now=moment, gateway=CrashingGateway(provider, at=2, after_call=False))
    lost_id = str(lost.value)
    assert status_of(night, lost_id) == SENDING and len(provider.sent) == 4
    # 3. two dispatchers at once, at the same moment: each message claimed by one; the two "sending" ones are
    # too recent to second-guess (a dispatcher may still be waiting for the provider's answer), so both wait
    results: list[dict[str, Any]] = []

    def run() -> None:
        results.append(dispatch(night, now=moment, gateway=provider))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2  # both dispatchers ran to the end (neither died opening the store)
    assert sum(r["sent"] for r in results) == len(queued) - 5  # 3 sent before, 2 left "sending"
    assert {status_of(night, taken_id), status_of(night, lost_id)} == {SENDING}
    # 4. later, past sms_reconcile_after_seconds: the one the provider has is recorded, the other sent once
    later = dispatch(night, now=moment + timedelta(minutes=2), gateway=provider)
    assert (later["reconciled_sent"], later["reconciled_requeued"], later["sent"]) == (1, 1, 1)
    sends = Counter(message.idempotency_key for message in provider.sent)
    assert set(sends) == set(queued) and set(sends.values()) == {1}
    assert Counter(queued[key] for key in sends) == Counter(queued.values())  # each seeker's offer, once
    rows = store_rows(night)["sms_outbox"]
    assert {row["status"] for row in rows} == {SENT}
    # 5. the night re-published and dispatched again: nothing goes back to the queue, nothing is sent
    assert tasks.run_step("publish", NIGHT.isoformat())["sms_added"] == 0
    assert store_rows(night)["sms_outbox"] == rows
    assert dispatch(night, now=moment + timedelta(minutes=3), gateway=provider)["sent"] == 0
    assert len(provider.sent) == len(queued)


def test_the_dispatch_task_twice_sends_each_message_once(
    tmp_path: Path, reference: Reference, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dispatch_now``, what the sms_dispatch DAG runs, on the clock it reads (moved to a Tuesday morning): a
    night of the day before (its messages are due) and a send window open every hour of every day."""
    today = date(2026, 11, 24)  # a Tuesday, no public holiday
    yesterday = today - timedelta(days=1)
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        home=tmp_path / "home",
        sms_rate_per_second=0.0,
        send_days=(0, 1, 2, 3, 4, 5, 6),
        send_start_hour=0,
        send_end_hour=24,
    )
    day = settings.inbox / yesterday.isoformat()
    generate(
        reference,
        seekers=1_500,
        vacancies=400,
        seed=5,
        out_dir=day,
        as_of=datetime.combine(yesterday, clock(2, tzinfo=UTC)),
    )
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    use_env(monkeypatch, settings)
    with time_machine.travel(night_of(yesterday)):
        rerun_from("sync_feedback", yesterday.isoformat())
    messages = store_rows(settings)["sms_outbox"]
    assert len(messages) > 0
    with time_machine.travel(datetime.combine(today, clock(10), tzinfo=ZoneInfo("Europe/Paris"))):
        first, second = dispatch_now(), dispatch_now()
    lines = settings.sms_sink.read_text(encoding="utf-8").splitlines() if settings.sms_sink.exists() else []
    assert (first["sent"], first["waiting"], second["sent"]) == (len(messages), 0, 0)
    assert sorted(json.loads(line)["idempotency_key"] for line in lines) == sorted(m["message_id"] for m in messages)


# --- backfill ------------------------------------------------------------------------------------

LATEST, PAST, OLDEST = date(2026, 11, 27), date(2026, 11, 25), date(2026, 11, 23)  # D, D-2, D-4
RESHAPED_AT = "2026-11-26T10:00:00Z"  # seekers who changed their profile after D-2's night, before D's


def reshape_seekers(source: Path, target: Path) -> list[str]:
    """``source`` with every 7th seeker's profile changed on 26 November (wider radius); returns their ids."""
    frame = pl.read_csv(source, infer_schema=False)
    changed = (pl.int_range(pl.len()) % 7 == 0) & pl.col("seeker_id").is_not_null()
    ids = frame.filter(changed)["seeker_id"].to_list()
    frame.with_columns(
        pl.when(changed).then(pl.lit(RESHAPED_AT)).otherwise(pl.col("updated_at")).alias("updated_at"),
        pl.when(changed).then(pl.lit("45")).otherwise(pl.col("radius_km")).alias("radius_km"),
    ).write_csv(target)
    return ids


def night_rows(settings: Settings, night: date) -> dict[str, Any]:
    """What a night wrote: its rows in every dated warehouse table, the profiles, and its rows in the store."""
    dated = {"feedback": "day"}
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        out: dict[str, Any] = {}
        for name in WAREHOUSE_TABLES:
            frame = wh.table(name)
            column = dated.get(name, "run_date")
            out[name] = (frame.filter(pl.col(column) == night) if column in frame.columns else frame).sort(pl.all())
    for name, rows in store_rows(settings).items():
        if rows and "run_date" in rows[0]:
            out[f"store.{name}"] = [row for row in rows if row["run_date"] == night]
    return out


def offered(settings: Settings, night: date) -> pl.DataFrame:
    """The night's published offers (SMS and counsellor items) as seeker_id, vacancy_id."""
    rows = store_rows(settings)
    pairs = [
        (row["seeker_id"], row["vacancy_id"])
        for name in ("sms_outbox", "counsellor_queue")
        for row in rows[name]
        if row["run_date"] == night
    ]
    return pl.DataFrame(pairs, schema={"seeker_id": pl.String, "vacancy_id": pl.String}, orient="row").sort(pl.all())


def routed(settings: Settings, night: date) -> pl.DataFrame:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        routing = wh.table("routing")
    return (
        routing.filter(pl.col("run_date") == night, pl.col("channel") != "suppressed")
        .select("seeker_id", "vacancy_id")
        .sort(pl.all())
    )


def test_a_backfilled_past_night_reads_its_own_inbox_and_repeats_nothing_of_later_nights(
    tmp_path: Path, reference: Reference, data_dir: Path, opstore_url: str
) -> None:
    settings = new_settings(tmp_path / "home", data_dir, opstore_url)
    base = tmp_path / "extract"
    generate(reference, seekers=3_000, vacancies=800, seed=11, out_dir=base)
    for night in (PAST, OLDEST):
        shutil.copytree(base, settings.inbox / night.isoformat())
    latest = settings.inbox / LATEST.isoformat()
    latest.mkdir(parents=True)
    reshaped = reshape_seekers(base / "seekers.csv", latest / "seekers.csv")
    shutil.copy(base / "vacancies.csv", latest / "vacancies.csv")
    shutil.copy(REAL_OFFERS, latest / "offres.jsonl")

    tasks.run_night(settings, LATEST)
    latest_rows = night_rows(settings, LATEST)
    tasks.run_night(settings, PAST)  # D-2, while D's SMS still wait to go out

    # D's rows, its profiles and its published offers are untouched (the older extract loses to newer profiles)
    assert_same(latest_rows, night_rows(settings, LATEST))
    # D-2 read its own inbox: its files, by fingerprint, and not D's real offers
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        stats = wh.table("ingest_stats").filter(pl.col("run_date") == PAST)
        manifest = wh.table("run_manifest").filter(pl.col("run_date") == PAST).row(0, named=True)
        profiles = wh.table("seekers").select("seeker_id", "updated_at")
        past_matches = wh.table("matches").filter(pl.col("run_date") == PAST)
        latest_matches = wh.table("matches").filter(pl.col("run_date") == LATEST)
    own_files = {
        (path.name, hashlib.sha256(path.read_bytes()).hexdigest()[:16])
        for path in (settings.inbox / PAST.isoformat()).iterdir()
    }
    assert own_files == {("seekers.csv", _sha(base / "seekers.csv")), ("vacancies.csv", _sha(base / "vacancies.csv"))}
    assert set(stats.select("file", "fingerprint").iter_rows()) == own_files
    assert {(f["file"], f["sha256_16"]) for f in json.loads(manifest["inputs_json"])} == own_files
    # nothing from after its night: no profile version of 26 November, so the reshaped seekers are left out
    assert set(latest_matches["seeker_id"]) & set(reshaped)  # D did match some of them
    assert not set(past_matches["seeker_id"]) & set(reshaped)
    night_end = datetime(2026, 11, 26, tzinfo=UTC)
    used = profiles.join(past_matches.select("seeker_id").unique(), on="seeker_id")
    assert used.height > 0 and used["updated_at"].max() < night_end  # type: ignore[operator]
    # D-2 routed no seeker to an offer D made, and published every offer it routed (none lost to the store's key)
    assert routed(settings, PAST).join(routed(settings, LATEST), on=["seeker_id", "vacancy_id"]).is_empty()
    assert routed(settings, PAST).equals(offered(settings, PAST))
    # D's SMS still wait, so D-2 gave those seekers none: no seeker has two SMS waiting to go out
    outbox = store_rows(settings)["sms_outbox"]
    texted = {night: {r["seeker_id"] for r in outbox if r["run_date"] == night} for night in (LATEST, PAST)}
    assert texted[LATEST] and not texted[LATEST] & texted[PAST]
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        reasons = dict(wh.table("routing").filter(pl.col("run_date") == PAST).select("seeker_id", "reason").iter_rows())
    assert {reasons[s] for s in texted[LATEST] if s in reasons} >= {"daily_sms_cap"}

    # D's and D-2's SMS go out on D at 10:00; then D-4 is backfilled
    dispatch(settings, now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), gateway=RecordingGateway())
    latest_rows = night_rows(settings, LATEST)
    tasks.run_night(settings, OLDEST)
    assert_same(latest_rows, night_rows(settings, LATEST))
    later = pl.concat([routed(settings, LATEST), routed(settings, PAST)])
    assert routed(settings, OLDEST).join(later, on=["seeker_id", "vacancy_id"]).is_empty()
    assert routed(settings, OLDEST).equals(offered(settings, OLDEST))
    # D-4 texted seekers D texted too (D's went out), each with another offer, and the reference in the text
    # ("OUI 2") names one offer per phone number
    outbox = store_rows(settings)["sms_outbox"]
    both = {r["seeker_id"] for r in outbox if r["run_date"] == OLDEST} & texted[LATEST]
    assert both
    refs = Counter((r["to_number"], r["reply_ref"]) for r in outbox)
    assert set(refs.values()) == {1}
    pairs = Counter((r["seeker_id"], r["vacancy_id"]) for r in outbox)
    assert set(pairs.values()) == {1}

    # D cleared and run again after both backfills: its offers are final, nothing is published
    store_before = store_rows(settings)
    results = tasks.run_night(settings, LATEST)
    assert (results["publish"]["sms_added"], results["publish"]["queue_added"]) == (0, 0)
    after = store_rows(settings)
    assert after["sms_outbox"] == store_before["sms_outbox"]
    assert after["counsellor_queue"] == store_before["counsellor_queue"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# --- the clock -----------------------------------------------------------------------------------

RUN_NIGHT = """
import sys
from datetime import date
from tremplin.nightly import tasks
from tremplin.settings import Settings
tasks.run_night(Settings.from_env(), date.fromisoformat(sys.argv[1]))
"""


def run_night_in_process(home: Path, data_dir: Path, zone: str) -> None:
    """A night in a process of its own, the machine's time zone set to ``zone``, and only these settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TREMPLIN_")}
    env.update({"TZ": zone, "TREMPLIN_HOME": str(home), "TREMPLIN_DATA_DIR": str(data_dir)})
    done = subprocess.run(
        [sys.executable, "-c", RUN_NIGHT, NIGHT.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_night_is_a_function_of_its_date_not_of_the_clock(
    tmp_path: Path, reference: Reference, data_dir: Path
) -> None:
    """The same night in two homes, at two different times of the machine's clock and in two time zones (the
    code reads the wall clock only to record when things ran): the same matches, routing, offers, texts and
    send times, in both stores; only the recorded times differ."""
    homes = [tmp_path / "first", tmp_path / "second"]
    for home in homes:
        fill_inbox(reference, home / "inbox" / NIGHT.isoformat())
    tasks.run_night(Settings.from_env({}, data_dir=data_dir, home=homes[0]), NIGHT)  # this process, its zone
    time.sleep(1.1)
    run_night_in_process(homes[1], data_dir, "Pacific/Kiritimati")  # UTC+14: another calendar day than Paris
    settings = [new_settings(home, data_dir) for home in homes]
    warehouses = [warehouse_rows(s) for s in settings]
    stores = [store_rows(s, STORE_TIMES) for s in settings]
    # the manifest's settings differ by the homes only
    paths = ("home", "data_dir")
    for frames in warehouses:
        frames["run_manifest"] = frames["run_manifest"].with_columns(
            pl.col("settings_json").map_elements(
                lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k not in paths}, sort_keys=True),
                return_dtype=pl.String,
            )
        )
    assert_same(warehouses[0], warehouses[1])
    assert_same(stores[0], stores[1])
    outbox = stores[0]["sms_outbox"]
    assert len(outbox) > 50 and warehouses[0]["matches"].height > 0
    # every SMS may go from 08:00 in Paris on the run date (07:00 UTC in November), whenever the night ran
    assert {_utc(row["not_before"]) for row in outbox} == {datetime(2026, 11, 23, 7, 0, tzinfo=UTC)}
    # and the recorded times are the real ones: the second night started later
    starts = list(manifest_starts(settings))
    assert starts[1] > starts[0]


def manifest_starts(settings: list[Settings]) -> Iterator[datetime]:
    for one in settings:
        with Warehouse.open(one.warehouse, read_only=True) as wh:
            yield wh.table("run_manifest")["started_at"].item()


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
