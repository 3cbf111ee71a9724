"""A whole night in one process on a small generated sample: re-runs, publish, dispatch, opt-out, caps."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import FAILED, QUEUED, SENDING, counsellor_queue, offer_key, sms_outbox
from connectors.reference import Reference
from connectors.sms import FileSinkGateway
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tremplin.dev.generate import generate
from tremplin.nightly import summary, tasks
from tremplin.settings import Settings
from tremplin.sms.conversation import Inbound, handle_inbound
from tremplin.sms.dispatch import dispatch
from tremplin.sms.text import encoding, segments

MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
WAREHOUSE_TABLES = (
    "shortlists",
    "seekers",
    "seeker_protected",
    "vacancies",
    "quarantine",
    "ingest_stats",
    "seeker_codes",
    "matches",
    "routing",
)


@pytest.fixture(scope="module")
def night(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, data_dir: Path, module_opstore_url: str
) -> Settings:
    home = tmp_path_factory.mktemp("night")
    settings = Settings.from_env(
        {}, data_dir=data_dir, home=home, opstore_url=module_opstore_url, sms_rate_per_second=0.0
    )
    day = settings.inbox / MONDAY.isoformat()
    generate(reference, seekers=3_000, vacancies=800, seed=11, out_dir=day)
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    tasks.run_night(settings, MONDAY)
    return settings


def snapshot(settings: Settings) -> dict[str, pl.DataFrame]:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {name: wh.table(name).sort(pl.all()) for name in WAREHOUSE_TABLES}


def outbox(settings: Settings) -> list[dict]:
    return OpStore(settings.opstore).table_rows(sms_outbox)


def test_every_decision_has_a_reason_and_channels_match_outputs(night: Settings) -> None:
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        routing = wh.table("routing")
        matches = wh.table("matches")
    assert matches.height > 0
    assert matches["score"].is_between(0, 1).all()
    assert routing["reason"].null_count() == 0
    assert set(routing["channel"]) <= {"sms", "counsellor", "suppressed"}
    store = OpStore(night.opstore)
    assert store.count(sms_outbox) == routing.filter(pl.col("channel") == "sms").height
    assert store.count(counsellor_queue) == routing.filter(pl.col("channel") == "counsellor").height
    # no vacancy's short list goes beyond 5 x its positions
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        lists = wh.table("shortlists").group_by("vacancy_id").len()
        vacancies = wh.table("vacancies").select("vacancy_id", "positions")
    assert lists.height > 0
    assert lists.join(vacancies, on="vacancy_id").filter(pl.col("len") > 5 * pl.col("positions")).is_empty()
    # every routed seeker received one of their own matches
    offered = routing.filter(pl.col("channel") != "suppressed").select("seeker_id", "vacancy_id")
    assert offered.join(matches, on=["seeker_id", "vacancy_id"], how="anti").is_empty()


def test_sms_texts_are_gsm7_within_two_segments_to_fiction_numbers(night: Settings) -> None:
    rows = outbox(night)
    assert rows
    for row in rows:
        assert encoding(row["body"]) == "GSM-7"
        assert row["segments"] == segments(row["body"]) <= 2
        assert row["to_number"].startswith("+3363998") and len(row["to_number"]) == 12
        assert "OUI" in row["body"] and "STOP" in row["body"]
    items = OpStore(night.opstore).table_rows(counsellor_queue)
    assert items and all("de chez vous" in item["explanation"]["sentence"] for item in items)


def test_rerunning_the_night_changes_nothing(night: Settings) -> None:
    before, sms_before = snapshot(night), outbox(night)
    queue_before = OpStore(night.opstore).count(counsellor_queue)
    tasks.run_night(night, MONDAY)
    after = snapshot(night)
    for name in WAREHOUSE_TABLES:
        assert before[name].equals(after[name]), name
    assert len(outbox(night)) == len(sms_before)
    assert OpStore(night.opstore).count(counsellor_queue) == queue_before


def test_manifest_records_the_run(night: Settings) -> None:
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        manifest = wh.table("run_manifest").row(0, named=True)
    assert manifest["taxonomy_version"] == "ROME 4.0 v60"
    assert manifest["finished_at"] is not None
    assert json.loads(manifest["outputs_json"])["matches"]["pairs"] > 0
    assert "twilio_auth_token" not in manifest["settings_json"]
    assert json.loads(manifest["model_json"])["ranking"] == "default_weights"
    assert {i["file"] for i in json.loads(manifest["inputs_json"])} == {"seekers.csv", "vacancies.csv", "offres.jsonl"}


def test_dispatch_waits_outside_the_window_then_sends_once(night: Settings, tmp_path: Path) -> None:
    sink = FileSinkGateway(tmp_path / "sink.jsonl")
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    waiting = dispatch(night, now=sunday, gateway=sink)
    assert waiting["in_window"] is False and waiting["sent"] == 0
    assert waiting["next_window"] == "2026-11-23T08:00:00+01:00"
    assert not (tmp_path / "sink.jsonl").exists()
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first = dispatch(night, now=monday, gateway=sink)
    total = len(outbox(night))
    assert first["sent"] == total and first["waiting"] == 0
    again = dispatch(night, now=monday, gateway=sink)
    assert again["sent"] == 0
    lines = (tmp_path / "sink.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == total
    assert all(r["status"] == "sent" and r["provider_sid"] for r in outbox(night))


def _distinct_phones(rows: list[dict], avoid: str, n: int) -> list[dict]:
    """The first ``n`` rows whose numbers differ from ``avoid`` and from one another."""
    seen = {avoid}
    picked = []
    for row in rows:
        if row["to_number"] not in seen:
            seen.add(row["to_number"])
            picked.append(row)
    assert len(picked) >= n
    return picked[:n]


def _earlier_offers(row: dict, days: list[date]) -> list[dict]:
    """Copies of an outbox row as SMS offers of other vacancies on earlier nights, failed (so neither pending
    nor delivered): they count for the weekly cap only."""
    return [
        {
            **row,
            "message_id": offer_key(day, row["seeker_id"], f"VEARLIER{n}"),
            "run_date": day,
            "vacancy_id": f"VEARLIER{n}",
            "status": FAILED,
            "provider_sid": None,
            "sending_at": None,
            "sent_at": None,
            "status_at": None,
            "replied_at": None,
        }
        for n, day in enumerate(days)
    ]


def test_next_night_honours_opt_out_caps_and_never_repeats_an_offer(night: Settings) -> None:
    store = OpStore(night.opstore)
    rows = sorted((r for r in outbox(night) if r["run_date"] == MONDAY), key=lambda r: r["message_id"])
    stopped = rows[0]
    yes, no, *waiting, weekly, twice = _distinct_phones(rows, stopped["to_number"], 7)
    # The state Tuesday starts from, whatever ran before this test: Monday's SMS went out at noon, except
    # three still waiting in the outbox (queued).
    monday_noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    held = {r["message_id"] for r in waiting}
    for n, row in enumerate(rows):
        if row["message_id"] in held:
            store.set_status(
                row["message_id"], QUEUED, provider_sid=None, sending_at=None, sent_at=None, status_at=None
            )
        elif row["status"] == QUEUED:
            assert store.set_status(row["message_id"], SENDING, expect=QUEUED, sending_at=monday_noon)
            assert store.record_sent(row["message_id"], f"SMnight{n}", monday_noon)
    # Earlier SMS offers: 18 and 20 November are within the 6 nights before Tuesday 24 (from the 18th), the
    # 17th is not. With Monday's: 3 offers this week for `weekly` (the cap is 3), 2 for `twice`.
    added = store.insert_ignoring_duplicates(
        sms_outbox,
        _earlier_offers(weekly, [date(2026, 11, 18), date(2026, 11, 20)])
        + _earlier_offers(twice, [date(2026, 11, 17), date(2026, 11, 20)]),
    )
    assert added == 4
    store.suppress(stopped["to_number"], reason="STOP", source="test", now=datetime.now(UTC))
    # two seekers answer their Monday offer: one OUI, one NON
    for n, (row, body) in enumerate(((yes, "Oui merci"), (no, "non"))):
        handle_inbound(store, night, Inbound(f"SMin{n}", row["to_number"], "+33700000000", body), now=monday_noon)
    shutil.copytree(night.inbox / MONDAY.isoformat(), night.inbox / TUESDAY.isoformat())
    tasks.run_night(night, TUESDAY)
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        tuesday = wh.table("routing").filter(pl.col("run_date") == TUESDAY)
        same_phone = wh.table("seekers").filter(pl.col("mobile") == stopped["to_number"])["seeker_id"].to_list()
        feedback = wh.table("feedback").sort("label")
    reason = dict(tuesday.select("seeker_id", "reason").iter_rows())
    # opted out: the stopped seeker and any other matched seeker on that number; no SMS goes to it on Tuesday
    assert stopped["seeker_id"] in same_phone
    on_stopped_number = [reason[seeker] for seeker in sorted(same_phone) if seeker in reason]
    assert reason.get(stopped["seeker_id"]) == "opted_out"
    assert on_stopped_number == ["opted_out"] * len(on_stopped_number)
    with store.begin() as conn:
        pairs = conn.execute(sa.select(sms_outbox.c.seeker_id, sms_outbox.c.vacancy_id)).all()
        tuesday_numbers = (
            conn.execute(sa.select(sms_outbox.c.to_number).where(sms_outbox.c.run_date == TUESDAY)).scalars().all()
        )
        yes_items = conn.execute(
            sa.select(
                counsellor_queue.c.run_date,
                counsellor_queue.c.vacancy_id,
                counsellor_queue.c.queue,
                counsellor_queue.c.status,
            ).where(counsellor_queue.c.seeker_id == yes["seeker_id"])
        ).all()
    assert len(tuesday_numbers) > 0
    assert stopped["to_number"] not in tuesday_numbers
    assert len(pairs) == len(set(pairs))  # never the same vacancy twice to a seeker
    # the answers reached the warehouse as feedback on Monday's matches, and the OUI seeker is with a counsellor
    assert feedback.select("day", "seeker_id", "vacancy_id", "label", "source").rows() == [
        (MONDAY, no["seeker_id"], no["vacancy_id"], 0, "sms_non"),
        (MONDAY, yes["seeker_id"], yes["vacancy_id"], 1, "sms_oui"),
    ]
    assert [tuple(item) for item in yes_items] == [(MONDAY, yes["vacancy_id"], "interested", "open")]
    assert reason.get(yes["seeker_id"]) == "queue_item_open"
    # Caps. An SMS from Monday still waiting blocks today's (daily cap: 1); one sent yesterday does not.
    # Three SMS offers in the 6 nights before reach the weekly cap; two do not.
    assert [reason.get(r["seeker_id"]) for r in waiting] == ["daily_sms_cap"] * 3
    assert reason.get(weekly["seeker_id"]) == "weekly_offer_cap"
    assert reason.get(twice["seeker_id"]) in ("sms_default", "no_offer_left")
    texted = {r["seeker_id"] for r in rows if r["to_number"] != stopped["to_number"]} - {
        r["seeker_id"] for r in (yes, *waiting, weekly)
    }
    texted_reasons = [reason[seeker] for seeker in texted if seeker in reason]
    assert len(texted_reasons) > len(texted) / 2
    assert set(texted_reasons) <= {"sms_default", "no_offer_left"}
    assert texted_reasons.count("sms_default") > 0
    report = summary.collect(night, TUESDAY)
    assert report["sms"]["written"] == len(tuesday_numbers)
