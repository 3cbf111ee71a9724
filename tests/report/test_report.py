"""The run report: a real night, then a day of delivery reports, replies and counsellor decisions played
through the real code paths, and the figures the report gives for them, worked out by hand."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import time_machine

from connectors.opstore import OpStore
from connectors.optables import TO_CALL, counsellor_queue, sms_outbox
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tests.support.clock import night_of
from tremplin.dev.generate import generate
from tremplin.errors import IncompleteNight
from tremplin.nightly import tasks
from tremplin.report import report_night, write_report
from tremplin.report.collect import UnknownRun, resolve_run
from tremplin.report.labels import METRICS
from tremplin.review.accounts import User, create_user
from tremplin.review.actions import act
from tremplin.settings import Settings
from tremplin.sms.conversation import Inbound, handle_inbound
from tremplin.sms.dispatch import dispatch, record_status_callback

MONDAY = date(2026, 11, 23)
NINE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 09:00 in Paris: the send window is open
AS_OF = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# the replies of five seekers, in order; the sixth texted seeker does not answer
REPLIES = (
    ("OUI", "oui", "oui", "oui"),  # screened, then put forward
    ("OUI", "oui"),  # stops half-way through the questions
    ("NON",),
    ("OUI", "oui", "non", "oui"),  # screened, then put forward and hired
    ("non merci",),
)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("report")
    settings = Settings.from_env({}, data_dir=data_dir, home=home, sms_rate_per_second=0.0)
    day = settings.inbox / MONDAY.isoformat()
    generate(reference, seekers=3_000, vacancies=800, seed=11, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    with time_machine.travel(night_of(MONDAY)):  # the night stamps its queue items at 02:00, not today
        tasks.run_night(settings, MONDAY)
    dispatch(settings, now=NINE)
    store = OpStore(settings.opstore)
    outbox = sorted(store.table_rows(sms_outbox), key=lambda r: r["message_id"])
    per_phone = Counter(r["to_number"] for r in outbox)
    texted = [r for r in outbox if r["sent_at"] is not None and per_phone[r["to_number"]] == 1][:6]
    for message in texted[:5]:
        record_status_callback(store, sid=message["provider_sid"], status="delivered", error_code=None, at=NINE)
    for n, (message, bodies) in enumerate(zip(texted, REPLIES, strict=False)):
        at = NINE + timedelta(minutes=10 * (n + 1))  # the first answers come 10, 20, 30, 40, 50 minutes after
        for k, body in enumerate(bodies):
            handle_inbound(
                store,
                settings,
                Inbound(f"SMin{n}-{k}", message["to_number"], "+33700000000", body),
                now=at + timedelta(minutes=k),
            )
    users: dict[str, User] = {}

    def user(agency: str) -> User:
        if agency not in users:
            users[agency] = create_user(
                store, username=f"c-{agency.lower()}", password="x" * 12, agency_id=agency, now=NINE
            )
        return users[agency]

    def work(item: dict[str, Any], steps: list[tuple[str, dict[str, Any]]], after: timedelta) -> None:
        version, at = item["version"], item["created_at"].replace(tzinfo=UTC) + after
        for action, extra in steps:
            act(store, user(item["agency_id"]), item["item_id"], action, version=version, at=at, **extra)
            version, at = version + 1, at + timedelta(minutes=5)

    items = {(r["seeker_id"], r["vacancy_id"]): r for r in store.table_rows(counsellor_queue)}
    first, fourth = (items[(texted[i]["seeker_id"], texted[i]["vacancy_id"])] for i in (0, 3))
    reached = {"outcome": "reached"}
    work(first, [("contacted", reached), ("put_forward", {})], timedelta(hours=2))
    work(fourth, [("contacted", reached), ("put_forward", {}), ("hired", {})], timedelta(hours=4))
    to_call = sorted((r for r in items.values() if r["queue"] == TO_CALL), key=lambda r: r["item_id"])
    work(to_call[0], [("contacted", reached), ("wrong_match", {"reason": "métier sans rapport"})], timedelta(hours=24))
    work(to_call[1], [("put_forward", {})], timedelta(hours=48))  # put forward with no call logged first
    work(to_call[2], [("contacted", {"outcome": "no_answer"})], timedelta(hours=30))  # tried, not reached
    written = write_report(settings, MONDAY, as_of=AS_OF)
    return {"settings": settings, "store": store, "written": written, "texted": texted, "to_call": to_call}


def test_html_and_json_are_written_side_by_side_and_say_the_same(played: dict[str, Any]) -> None:
    written = played["written"]
    assert written.html.name == "report-2026-11-23.html" and written.json.parent == written.html.parent
    assert json.loads(written.json.read_text(encoding="utf-8")) == json.loads(json.dumps(written.data, default=str))
    page = written.html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 10
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch
    assert "https://" not in page and "<script" not in page
    assert not list(written.html.parent.glob("*.part"))


def test_the_routing_charts_name_channels_and_reasons_in_french(played: dict[str, Any]) -> None:
    page = played["written"].html.read_text(encoding="utf-8")
    by_reason = played["written"].data["routing"]["by_reason"]
    assert {r["reason"] for r in by_reason} >= {"sms_default", "no_mobile"}
    assert [r["reason"] for r in by_reason if r["reason"] in page] == []  # codes stay in the JSON file
    assert "SMS · offre envoyée par SMS" in page and "conseiller · pas de télépho…" in page  # cut at 27 characters


def test_the_night_read_matched_and_routed(played: dict[str, Any]) -> None:
    data, settings = played["written"].data, played["settings"]
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        stats = wh.table("ingest_stats")
        matches = wh.table("matches")
        routing = wh.table("routing")
        manifest = wh.table("run_manifest")
    assert data["manifest"]["run_id"] == manifest["run_id"][0]
    assert data["steps"]["missing"] == [] and set(data["steps"]["done"]) == set(tasks.NIGHT_STEPS)
    assert data["inputs"]["read"] == stats["rows_read"].sum()
    assert data["inputs"]["quarantined"] == stats["rows_quarantined"].sum() > 0
    assert data["matches"]["pairs"] == matches.height
    per_seeker = matches.group_by("seeker_id").len()["len"].value_counts().sort("len")
    assert [(r["matches"], r["seekers"]) for r in data["matches"]["per_seeker"]] == per_seeker.rows()
    assert sum(r["vacancies"] for r in data["matches"]["per_vacancy"]) == data["matches"]["open_vacancies"]
    assert data["routing"]["by_channel"] == dict(routing.group_by("channel").len().rows())


def test_funnel_delays_and_cost_of_the_day_played(played: dict[str, Any]) -> None:
    data, store = played["written"].data, played["store"]
    outbox = store.table_rows(sms_outbox)
    sent = [r for r in outbox if r["sent_at"] is not None]
    assert dict(data["funnel"]["sms"]) == {
        "SMS écrits": len(outbox),
        "envoyés": len(sent),
        "délivrés": 5,
        "réponses": 5,
        "OUI": 3,  # the first, second and fourth
        "questions répondues": 2,  # the first and the fourth
        "rappelés par un conseiller": 2,
        "présentés à l'employeur": 2,
        "recrutés": 1,
    }
    to_call = [r for r in store.table_rows(counsellor_queue) if r["queue"] == TO_CALL]
    # joints: the wrong match (reached) and the one put forward; the unanswered call does not count
    assert dict(data["funnel"]["counsellor"]) == {
        "à appeler": len(to_call),
        "joints": 2,
        "présentés à l'employeur": 1,
        "recrutés": 0,
    }
    # replies after 10, 20, 30, 40, 50 minutes: median 30; 90th percentile 40 + 0.6 * 10 = 46
    assert data["funnel"]["reply_minutes"] == {"n": 5, "p50": 30.0, "p90": 46.0}
    # OUI to call: 2 h and 4 h, median 3, p90 2 + 0.9 * 2 = 3.8. To call: the reached call after 24 h and the
    # put forward after 48 h (putting forward stamps the contact); median 36, p90 24 + 0.9 * 24 = 45.6
    assert data["funnel"]["contact_hours"]["interested"] == {"n": 2, "p50": 3.0, "p90": 3.8}
    assert data["funnel"]["contact_hours"]["to_call"] == {"n": 2, "p50": 36.0, "p90": 45.6}
    segments = sum(r["segments"] for r in sent)
    assert data["sms_cost"]["segments"] == segments
    assert data["sms_cost"]["cost"] == pytest.approx(round(segments * 0.07, 2))


def test_backlog_counts_open_items_per_agency(played: dict[str, Any]) -> None:
    data, store = played["written"].data, played["store"]
    rows = store.table_rows(counsellor_queue)
    open_items = Counter(r["agency_id"] for r in rows if r["status"] == "open")
    assert {b["agency_id"]: b["open"] for b in data["backlog"] if b["open"]} == dict(open_items)
    # the backlog is largest first
    assert [b["open"] for b in data["backlog"]] == sorted((b["open"] for b in data["backlog"]), reverse=True)
    oldest = min(r["created_at"] for r in rows if r["status"] == "open").replace(tzinfo=UTC)
    assert max(b["oldest_open_days"] or 0 for b in data["backlog"]) == pytest.approx(
        (AS_OF - oldest).total_seconds() / 86_400, abs=0.05
    )


def test_oversight_counts_the_decisions_taken(played: dict[str, Any]) -> None:
    oversight = played["written"].data["oversight"]
    # decisions: put forward x3, hired x1, wrong match x1 = 5, of which 1 override; calls are not decisions
    overall = [r for r in oversight["trend"] if r["agency_id"] == "toutes agences"]
    assert sum(r["decisions"] for r in overall) == 5
    assert sum(r["overrides"] for r in overall) == 1
    assert sum(r["decisions"] for r in oversight["by_agency"]) == 5
    assert all(r["too_few"] and not r["rubber_stamp"] for r in oversight["by_agency"])


def test_fairness_population_and_outcomes_come_from_both_stores(played: dict[str, Any]) -> None:
    data, settings = played["written"].data, played["settings"]
    fairness = data["fairness"]
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        seekers = wh.table("seekers")
        matched = wh.table("matches")["seeker_id"].n_unique()
    assert fairness["population"] == seekers.height  # every profile of the sample is fresh
    by_gender = [r for r in fairness["rows"] if r["dimension"] == "gender" and r["metric"] == "match_rate"]
    assert sum(r["seekers"] for r in by_gender) == seekers.height
    assert round(sum(r["value"] * r["denominator"] for r in by_gender)) == matched
    # positive outcomes: three said OUI, and one seeker called about a match was put forward
    positive = [r for r in fairness["rows"] if r["dimension"] == "gender" and r["metric"] == "positive_rate"]
    assert round(sum((r["value"] or 0) * r["denominator"] for r in positive)) == 4
    assert fairness["breaches"] == [r for r in fairness["rows"] if r["breach"]]
    # each breach is named in the alerts, or counted in one line when a dimension has more than three
    for (dimension, metric), count in Counter((b["dimension"], b["metric"]) for b in fairness["breaches"]).items():
        lines = [a for a in data["alerts"] if a.startswith("Écart") and METRICS[metric] in a]
        assert lines and (count <= 3 or any(f"{count} groupes" in a for a in lines)), (dimension, metric)


def test_run_id_or_date_name_the_night(played: dict[str, Any]) -> None:
    settings = played["settings"]
    run_id = played["written"].data["manifest"]["run_id"]
    assert resolve_run(settings, run_id) == MONDAY
    assert resolve_run(settings, "2026-11-23") == MONDAY
    with pytest.raises(UnknownRun, match="no-such-run"):
        resolve_run(settings, "no-such-run")


def test_an_incomplete_night_is_reported_and_the_task_fails(
    tmp_path: Path, reference: Reference, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path)
    day = settings.inbox / MONDAY.isoformat()
    generate(reference, seekers=300, vacancies=100, seed=3, out_dir=day)
    for step in ("sync_feedback", "ingest", "normalize", "score"):  # then route fails, say
        tasks.record_step(settings, MONDAY, step, tasks.STEPS[step](settings, MONDAY))
    monkeypatch.setenv("TREMPLIN_HOME", str(tmp_path))
    monkeypatch.setenv("TREMPLIN_DATA_DIR", str(data_dir))
    with pytest.raises(IncompleteNight, match="missing: route, publish, summary"):
        report_night("2026-11-23")
    data = json.loads((settings.reports / "report-2026-11-23.json").read_text(encoding="utf-8"))
    assert data["steps"]["missing"] == ["route", "publish", "summary"]
    assert data["alerts"][0] == "Nuit incomplète : étapes manquantes : route, publish, summary."
    assert data["manifest"]["finished_at"] is None
    page = (settings.reports / "report-2026-11-23.html").read_text(encoding="utf-8")
    assert page.count('<span class="breach">manquante</span>') == 3  # one per missing step


def test_a_night_that_never_ran_is_reported_as_such(settings: Settings) -> None:
    with Warehouse.open(settings.warehouse):
        pass  # an empty warehouse
    written = write_report(settings, MONDAY, as_of=AS_OF)
    assert written.data["manifest"] is None
    assert written.missing_steps == list(tasks.NIGHT_STEPS)
    assert written.data["alerts"][0].startswith("Aucune trace de cette nuit")


def test_protected_attributes_change_no_score_but_change_the_audit(
    tmp_path: Path, reference: Reference, data_dir: Path
) -> None:
    """Two nights on the same seekers, their gender, birth year and disability reshuffled in the second."""
    homes = {}
    for name in ("as_given", "reshuffled"):
        settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path / name, sms_rate_per_second=0.0)
        day = settings.inbox / MONDAY.isoformat()
        generate(reference, seekers=1_500, vacancies=400, seed=21, out_dir=day)
        if name == "reshuffled":
            path = next(day.glob("seekers*"))
            seekers = pl.read_csv(path, infer_schema=False)
            swapped = seekers.with_columns(
                pl.col("gender").replace({"F": "M", "M": "F"}),
                pl.col("birth_year").reverse(),
                pl.col("disability").shift(1, fill_value=seekers["disability"][-1]),
            )
            assert (swapped["gender"] != seekers["gender"]).sum() > 1_000
            swapped.write_csv(path)
        tasks.run_night(settings, MONDAY)
        homes[name] = settings
    tables: dict[str, dict[str, pl.DataFrame]] = {}
    texts: dict[str, list[Any]] = {}
    for name, settings in homes.items():
        with Warehouse.open(settings.warehouse, read_only=True) as wh:
            tables[name] = {t: wh.table(t).drop(pl.selectors.temporal()).sort(pl.all()) for t in ("matches", "routing")}
            assert wh.table("seeker_protected").height == wh.table("seekers").height > 1_400
        with OpStore(settings.opstore).begin() as conn:
            texts[name] = sorted(conn.execute(sa.select(sms_outbox.c.seeker_id, sms_outbox.c.score)).all())
    assert tables["as_given"]["matches"].height > 0
    assert tables["as_given"]["matches"].equals(tables["reshuffled"]["matches"])
    assert tables["as_given"]["routing"].equals(tables["reshuffled"]["routing"])
    assert texts["as_given"] == texts["reshuffled"] != []
    audits = [write_report(s, MONDAY, as_of=AS_OF).data["fairness"]["rows"] for s in homes.values()]
    genders = [
        {r["group"]: r["seekers"] for r in rows if r["dimension"] == "gender" and r["metric"] == "match_rate"}
        for rows in audits
    ]
    assert genders[0]["F"] == genders[1]["M"] and genders[0]["M"] == genders[1]["F"]


def test_stale_profiles_are_counted_apart_and_left_out_of_the_audit(
    tmp_path: Path, reference: Reference, data_dir: Path
) -> None:
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path)
    day = settings.inbox / MONDAY.isoformat()
    generate(reference, seekers=300, vacancies=100, seed=8, out_dir=day)
    path = next(day.glob("seekers*"))
    seekers = pl.read_csv(path, infer_schema=False)
    # 20 profiles last touched two years before the night: more than stale_profile_days (365)
    stale = pl.int_range(pl.len()) < 20
    seekers = seekers.with_columns(
        pl.when(stale).then(pl.lit("2024-11-01T10:00:00Z")).otherwise(pl.col("updated_at")).alias("updated_at")
    )
    seekers.write_csv(path)
    tasks.run_night(settings, MONDAY)
    data = write_report(settings, MONDAY, as_of=AS_OF).data
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        loaded = wh.table("seekers")
    kept_stale = loaded.filter(pl.col("seeker_id").is_in(seekers.filter(stale)["seeker_id"].to_list())).height
    assert kept_stale == 20  # loaded (nothing is lost), but left out of the night's matching
    assert data["freshness"]["excluded"] == 20
    assert {r["band"]: r["seekers"] for r in data["freshness"]["by_age"]}["trop anciens, exclus"] == 20
    assert data["fairness"]["population"] == loaded.height - 20


def test_a_week_of_decisions_with_no_override_is_flagged(settings: Settings) -> None:
    from tremplin.report.collect import _oversight

    monday = datetime(2026, 11, 16, 9, tzinfo=UTC)
    # 25 put forward and no override in the week of 16 November; 10 decisions with 1 wrong match the next week
    events = [(monday + timedelta(hours=i), "FT-07-001", "put_forward") for i in range(25)]
    events += [(monday + timedelta(days=7, hours=i), "FT-07-001", "put_forward") for i in range(9)]
    events += [(monday + timedelta(days=7, hours=10), "FT-07-001", "wrong_match")]
    schema: dict[str, Any] = {"at": pl.Datetime("us"), "agency_id": pl.String, "action": pl.String}
    decisions = pl.DataFrame(events, schema=schema, orient="row")
    oversight = _oversight(settings, decisions)
    (week,) = oversight["rubber_stamp_weeks"]
    assert week["period_start"][:10] == "2026-11-16" and week["decisions"] == 25 and week["overrides"] == 0
    (agency,) = oversight["by_agency"]  # 35 decisions, 1 override: 2.9 %, above the 2 % line
    assert (agency["decisions"], agency["overrides"], agency["rubber_stamp"]) == (35, 1, False)
