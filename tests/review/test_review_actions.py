"""Counsellor actions on the store: transitions, concurrency, audit, notes, and what flows on from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import audit_events, counsellor_queue, notes, sms_outbox
from tests.support import review_data as rd
from tests.support.outbox import outbox_row
from tremplin.review import actions, queries
from tremplin.review.accounts import User

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def setup(opstore_url: str) -> tuple[OpStore, dict[str, User]]:
    store = OpStore(opstore_url)
    return store, rd.build(store)


def _row(store: OpStore, item_id: str) -> dict:
    return next(r for r in store.table_rows(counsellor_queue) if r["item_id"] == item_id)


def _events(store: OpStore) -> list[tuple[str, str | None]]:
    return [(e["action"], e["item_id"]) for e in store.table_rows(audit_events)]


def test_a_call_that_reaches_the_seeker_marks_contact_and_is_audited(setup):
    store, users = setup
    item = rd.item_id("S1", "V1")
    after = actions.act(store, users["marie"], item, "contacted", version=1, at=AT, outcome="reached")
    row = _row(store, item)
    assert (row["status"], row["outcome"], row["version"]) == ("contacted", "reached", 2)
    assert row["contacted_at"] is not None and row["assigned_to"] == users["marie"].user_id
    assert after["status"] == "contacted"
    assert _events(store) == [("contacted", item)]
    event = store.table_rows(audit_events)[0]
    assert event["user_id"] == users["marie"].user_id and event["agency_id"] == rd.ARDECHE
    assert event["details"] == {"from_status": "open", "outcome": "reached"}


def test_a_call_without_answer_keeps_the_item_open_and_sets_no_contact(setup):
    store, users = setup
    item = rd.item_id("S1", "V1")
    actions.act(store, users["marie"], item, "contacted", version=1, at=AT, outcome="no_answer")
    row = _row(store, item)
    assert (row["status"], row["outcome"], row["contacted_at"]) == ("open", "no_answer", None)


def test_a_counsellor_contact_drops_the_sms_still_queued_for_that_seeker(setup):
    store, users = setup
    queued = outbox_row(1, created_at=AT - timedelta(hours=2))  # seeker S1, queued before the call
    store.insert_ignoring_duplicates(sms_outbox, [queued])
    assert store.drop_reason(queued, AT.date()) is None
    actions.act(store, users["marie"], rd.item_id("S1", "V1"), "contacted", version=1, at=AT, outcome="reached")
    assert store.drop_reason(queued, AT.date()) == "counsellor_contacted"


def test_put_forward_then_hired(setup):
    store, users = setup
    item = rd.item_id("S2", "V1")
    actions.act(store, users["marie"], item, "put_forward", version=1, at=AT)
    actions.act(store, users["marie"], item, "hired", version=2, at=AT + timedelta(days=3))
    row = _row(store, item)
    assert row["status"] == "hired" and row["contacted_at"] is not None and row["decided_at"] is not None
    assert [a for a, _ in _events(store)] == ["put_forward", "hired"]


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("hired", {}, "does not apply"),  # hired needs a contact or a put forward first
        ("wrong_match", {}, "give a reason"),
        ("not_interested", {"reason": "   "}, "give a reason"),
        ("contacted", {"outcome": "maybe"}, "contact outcome"),
        ("delete", {}, "unknown action"),
    ],
)
def test_actions_that_do_not_apply_change_nothing(setup, action, kwargs, message):
    store, users = setup
    item = rd.item_id("S1", "V1")
    with pytest.raises(actions.ActionError, match=message):
        actions.act(store, users["marie"], item, action, version=1, at=AT, **kwargs)
    assert _row(store, item)["version"] == 1
    assert store.count(audit_events) == 0


def test_the_second_of_two_counsellors_is_refused_and_told_who_acted(setup):
    store, users = setup
    item = rd.item_id("S2", "V1")
    seen = 1  # both loaded the page at version 1
    actions.act(store, users["marie"], item, "put_forward", version=seen, at=AT)
    with pytest.raises(actions.Conflict) as refused:
        actions.act(store, users["paul"], item, "wrong_match", version=seen, at=AT, reason="trop loin")
    assert refused.value.by == "Marie Roux" and refused.value.action == "put_forward"
    row = _row(store, item)
    assert (row["status"], row["decision_reason"], row["version"]) == ("put_forward", None, 2)
    assert _events(store) == [("put_forward", item)]


def test_a_change_by_the_system_is_reported_as_such(setup):
    store, users = setup
    item = rd.item_id("S2", "V1")
    with store.begin() as conn:  # a screening answer arrived while the page was open
        conn.execute(
            sa.update(counsellor_queue)
            .where(counsellor_queue.c.item_id == item)
            .values(version=2, updated_at=AT - timedelta(minutes=1))
        )
    with pytest.raises(actions.Conflict) as refused:
        actions.act(store, users["paul"], item, "put_forward", version=1, at=AT)
    assert refused.value.by is None


def test_another_agency_cannot_act_on_an_item_or_note_it(setup):
    store, users = setup
    item = rd.item_id("S1", "V1")
    with pytest.raises(actions.NotFound):
        actions.act(store, users["lucas"], item, "contacted", version=1, at=AT, outcome="reached")
    with pytest.raises(actions.NotFound):
        actions.add_note(store, users["lucas"], item, "vu", at=AT)
    assert _row(store, item)["version"] == 1 and store.count(notes) == 0


def test_reassign_only_within_the_agency(setup):
    store, users = setup
    item = rd.item_id("S1", "V1")
    with pytest.raises(actions.ActionError, match="your agency"):
        actions.act(store, users["marie"], item, "reassign", version=1, at=AT, assignee=users["lucas"].user_id)
    actions.act(store, users["marie"], item, "reassign", version=1, at=AT, assignee=users["paul"].user_id)
    assert _row(store, item)["assigned_to"] == users["paul"].user_id


def test_flag_moves_the_item_to_the_flagged_queue_with_its_reason(setup):
    store, users = setup
    item = rd.item_id("S4", "V2")
    actions.act(store, users["paul"], item, "flag", version=1, at=AT, reason="adresse à vérifier")
    row = _row(store, item)
    assert (row["queue"], row["reason"], row["decision_reason"]) == (
        "flagged",
        "rural_low_digital",
        "adresse à vérifier",
    )
    assert store.table_rows(audit_events)[0]["details"]["from_queue"] == "to_call"


def test_notes_are_kept_per_seeker_and_never_edited(setup):
    store, users = setup
    item = rd.item_id("S3", "V2")
    actions.add_note(store, users["marie"], item, "Rappeler après 17 h", at=AT)
    actions.add_note(store, users["paul"], item, "Joint, intéressé par le CDI", at=AT + timedelta(hours=1))
    with pytest.raises(actions.ActionError):
        actions.add_note(store, users["paul"], item, "  ", at=AT)
    found = queries.item(store, rd.ARDECHE, item)
    assert found is not None
    assert [(n["display_name"], n["body"]) for n in found["notes"]] == [
        ("Paul Blanc", "Joint, intéressé par le CDI"),
        ("Marie Roux", "Rappeler après 17 h"),
    ]
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.begin() as conn:
        conn.execute(sa.update(notes).values(body="effacé"))


def test_audit_events_cannot_be_changed_or_deleted(setup):
    store, users = setup
    # stamped now, not at the fixed AT: a row older than six months may be deleted (by the retention job)
    now = datetime.now(UTC)
    actions.act(store, users["marie"], rd.item_id("S1", "V1"), "contacted", version=1, at=now, outcome="reached")
    for statement in (sa.update(audit_events).values(action="nothing"), sa.delete(audit_events)):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.begin() as conn:
            conn.execute(statement)
    assert _events(store) == [("contacted", rd.item_id("S1", "V1"))]


def test_decisions_taken_in_the_pages_are_the_next_nights_feedback(setup):
    store, users = setup
    actions.act(store, users["marie"], rd.item_id("S2", "V1"), "put_forward", version=1, at=AT)
    actions.act(store, users["paul"], rd.item_id("S1", "V1"), "wrong_match", version=1, at=AT, reason="hors métier")
    actions.act(store, users["paul"], rd.item_id("S4", "V2"), "contacted", version=1, at=AT, outcome="reached")
    events = store.feedback_events(until=AT + timedelta(hours=1))
    # S2 had also said OUI by SMS on the night before (another day): both signals stand, one per offer-day
    assert sorted(events.select("day", "seeker_id", "label", "source").iter_rows()) == [
        (rd.NIGHT - timedelta(days=1), "S2", 1, "sms_oui"),
        (rd.NIGHT, "S1", 0, "wrong_match"),
        (rd.NIGHT, "S2", 1, "put_forward"),
    ]
    # until AT: the SMS answer (10:12 UTC) only; the decisions were taken at AT, not before it
    assert store.feedback_events(until=AT)["source"].to_list() == ["sms_oui"]
