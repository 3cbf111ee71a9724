"""Feedback sync: SMS answers and counsellor decisions, one event per offer, into the warehouse."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from connectors.opstore import OpStore
from connectors.optables import conversations, counsellor_queue, sms_outbox
from connectors.warehouse import Warehouse
from tests.support.outbox import RUN_DATE, outbox_row
from tremplin.nightly import common, feedback
from tremplin.settings import Settings

SUNDAY = RUN_DATE - timedelta(days=1)
TUESDAY = RUN_DATE + timedelta(days=1)
WEDNESDAY = RUN_DATE + timedelta(days=2)
# the sync run on Tuesday night reads what happened until Wednesday 00:00 UTC
UNTIL = common.run_end(TUESDAY)
TUESDAY_NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
WEDNESDAY_NOON = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings, opstore_url: str) -> Settings:
    return dataclasses.replace(settings, opstore_url=opstore_url)


@pytest.fixture
def store(settings: Settings) -> OpStore:
    return OpStore(settings.opstore)


def sms_answer(store: OpStore, i: int, state: str) -> None:
    """Offer ``i`` (seeker S<i>, vacancy V<i>, Monday) texted and answered: ``interested`` (OUI) or ``declined``."""
    row = outbox_row(i, status="sent")
    store.insert_ignoring_duplicates(sms_outbox, [row])
    with store.begin() as conn:
        conn.execute(
            conversations.insert().values(
                conversation_id=row["message_id"],
                seeker_id=row["seeker_id"],
                vacancy_id=row["vacancy_id"],
                phone=row["to_number"],
                state=state,
                step=0,
                opened_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
                updated_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
            )
        )


def decision(store: OpStore, i: int, status: str, at: datetime | None, *, run_date: date = RUN_DATE) -> None:
    """A counsellor item on offer ``i`` in ``status``, decided at ``at`` (what the web app leaves behind)."""
    item: dict[str, Any] = {
        "item_id": f"{run_date.isoformat()}:S{i}:V{i}",
        "run_date": run_date,
        "agency_id": "FT-07-001",
        "seeker_id": f"S{i}",
        "vacancy_id": f"V{i}",
        "queue": "interested",
        "reason": "sms_oui",
        "score": 0.5,
        "explanation": {},
        "status": status,
        "created_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "decided_at": at,
        "version": 2,
    }
    store.insert_ignoring_duplicates(counsellor_queue, [item])


def by_pair(events: pl.DataFrame) -> dict[tuple[date, str, str], tuple[int, str]]:
    assert events.select("day", "seeker_id", "vacancy_id").is_duplicated().sum() == 0
    return {(d, s, v): (label, source) for d, s, v, label, source in events.iter_rows()}


def test_a_counsellor_decision_wins_over_the_sms_answer(store: OpStore) -> None:
    for i, state in enumerate(("interested", "interested", "interested", "interested", "declined", "interested")):
        sms_answer(store, i, state)
    decision(store, 0, "hired", TUESDAY_NOON)
    decision(store, 1, "put_forward", TUESDAY_NOON)
    decision(store, 2, "wrong_match", TUESDAY_NOON)
    decision(store, 3, "not_interested", TUESDAY_NOON)
    decision(store, 4, "contacted", None)  # not a decision: the NON stays
    # offer 5: OUI, its item still open: the OUI stays
    decision(store, 5, "open", None)
    # offers 6 to 9 went straight to a counsellor (no SMS), on Sunday's night
    decision(store, 6, "hired", TUESDAY_NOON, run_date=SUNDAY)
    decision(store, 7, "wrong_match", TUESDAY_NOON, run_date=SUNDAY)
    decision(store, 8, "not_interested", TUESDAY_NOON, run_date=SUNDAY)
    decision(store, 9, "open", None, run_date=SUNDAY)
    assert by_pair(store.feedback_events(until=UNTIL)) == {
        (RUN_DATE, "S0", "V0"): (1, "hired"),
        (RUN_DATE, "S1", "V1"): (1, "put_forward"),
        (RUN_DATE, "S2", "V2"): (0, "wrong_match"),
        (RUN_DATE, "S3", "V3"): (0, "not_interested"),
        (RUN_DATE, "S4", "V4"): (0, "sms_non"),
        (RUN_DATE, "S5", "V5"): (1, "sms_oui"),
        (SUNDAY, "S6", "V6"): (1, "hired"),
        (SUNDAY, "S7", "V7"): (0, "wrong_match"),
        (SUNDAY, "S8", "V8"): (0, "not_interested"),
    }


def test_decisions_after_until_are_left_for_the_next_night(store: OpStore) -> None:
    sms_answer(store, 0, "interested")
    decision(store, 0, "wrong_match", WEDNESDAY_NOON)
    decision(store, 1, "hired", WEDNESDAY_NOON, run_date=SUNDAY)
    decision(store, 2, "hired", UNTIL)  # exactly at the end of the night: the next night's
    assert by_pair(store.feedback_events(until=UNTIL)) == {(RUN_DATE, "S0", "V0"): (1, "sms_oui")}
    assert by_pair(store.feedback_events(until=common.run_end(WEDNESDAY))) == {
        (RUN_DATE, "S0", "V0"): (0, "wrong_match"),
        (SUNDAY, "S1", "V1"): (1, "hired"),
        (RUN_DATE, "S2", "V2"): (1, "hired"),
    }


def test_an_empty_store_gives_an_empty_frame(store: OpStore) -> None:
    events = store.feedback_events(until=UNTIL)
    assert events.is_empty()
    assert events.schema == pl.Schema(
        {"day": pl.Date, "seeker_id": pl.String, "vacancy_id": pl.String, "label": pl.Int32, "source": pl.String}
    )


def warehouse_feedback(settings: Settings) -> list[tuple[Any, ...]]:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return wh.table("feedback").sort("seeker_id").rows()


def test_sync_feedback_writes_decisions_into_the_warehouse(settings: Settings, store: OpStore) -> None:
    sms_answer(store, 0, "interested")
    sms_answer(store, 1, "interested")
    sms_answer(store, 2, "declined")
    decision(store, 3, "hired", TUESDAY_NOON, run_date=SUNDAY)
    # Tuesday night: the answers, and the counsellor's hire of Sunday's offer 3
    assert feedback.sync_feedback(settings, TUESDAY) == {"feedback_events": 4, "positive": 3}
    assert warehouse_feedback(settings) == [
        (RUN_DATE, "S0", "V0", 1, "sms_oui"),
        (RUN_DATE, "S1", "V1", 1, "sms_oui"),
        (RUN_DATE, "S2", "V2", 0, "sms_non"),
        (SUNDAY, "S3", "V3", 1, "hired"),
    ]
    # On Wednesday the counsellor finds offer 0 a wrong match and puts offer 1 forward; the next night's
    # sync replaces the SMS answers, and a re-run of it changes nothing
    decision(store, 0, "wrong_match", WEDNESDAY_NOON)
    decision(store, 1, "put_forward", WEDNESDAY_NOON)
    for _ in range(2):
        assert feedback.sync_feedback(settings, WEDNESDAY) == {"feedback_events": 4, "positive": 2}
        assert warehouse_feedback(settings) == [
            (RUN_DATE, "S0", "V0", 0, "wrong_match"),
            (RUN_DATE, "S1", "V1", 1, "put_forward"),
            (RUN_DATE, "S2", "V2", 0, "sms_non"),
            (SUNDAY, "S3", "V3", 1, "hired"),
        ]


def test_queue_item_open_counts_items_still_in_a_counsellors_hands(store: OpStore) -> None:
    for i, status in enumerate(("open", "contacted", "put_forward", "hired", "not_interested", "wrong_match")):
        decision(store, i, status, None)
    decision(store, 6, "open", None, run_date=TUESDAY)  # tonight's own item: not an earlier night's
    history = store.seeker_history(TUESDAY).filter(pl.col("queue_item_open"))
    assert sorted(history["seeker_id"]) == ["S0", "S1", "S2"]
