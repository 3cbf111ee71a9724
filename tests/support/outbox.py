"""Outbox rows for tests: what a queued SMS offer looks like in the operational store, and the tables read back
as small dicts to compare with expected values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox, suppression

RUN_DATE = date(2026, 11, 23)
# Monday 23 November 2026, 10:00 in Paris (UTC+1): inside the send window, not a public holiday.
MONDAY_10H_PARIS = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def outbox_row(i: int, **overrides: Any) -> dict[str, Any]:
    """Offer ``i`` (seeker S<i>, vacancy V<i>, fiction number +33 6 39 98 0<i>), queued on 2026-11-23."""
    row: dict[str, Any] = {
        "message_id": f"{RUN_DATE.isoformat()}:S{i}:V{i}",
        "run_date": RUN_DATE,
        "seeker_id": f"S{i}",
        "vacancy_id": f"V{i}",
        "agency_id": "FT-07-001",
        "to_number": f"+33639980{i:03d}",
        "reply_ref": 1,
        "body": f"TREMPLIN: offre Boulanger {i} à Aubenas (12 km). Répondez OUI ou NON (réf. 1).",
        "segments": 1,
        "encoding": "GSM-7",
        "score": 0.5,
        "explanation": {"title": f"Boulanger {i}"},
        "status": "queued",
        "attempts": 0,
        "not_before": datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
        "created_at": datetime(2026, 11, 23, tzinfo=UTC),
    }
    unknown = set(overrides) - set(row) - {"sent_at", "provider_sid", "replied_at"}
    if unknown:
        raise KeyError(f"not an outbox column: {sorted(unknown)}")
    return {**row, **overrides}


def queue_messages(store: OpStore, numbers: Iterable[str], *, first: int = 0) -> None:
    """Queue offer ``first``, ``first + 1``... (seekers S<first>...) to these numbers, in this order."""
    rows = [outbox_row(i, to_number=number) for i, number in enumerate(numbers, start=first)]
    store.insert_ignoring_duplicates(sms_outbox, rows)


def statuses(store: OpStore, *, by: str = "seeker_id", extra: str = "error_code") -> dict[str, tuple[str, Any]]:
    """Each outbox message's (status, ``extra`` column), keyed by ``by`` (the seeker, or ``message_id``)."""
    return {r[by]: (r["status"], r[extra]) for r in store.table_rows(sms_outbox)}


def queue_items(store: OpStore, *, by: str = "seeker_id") -> dict[str, tuple[str, str]]:
    """Each counsellor queue item's (queue, reason), keyed by ``by`` (the seeker, or ``item_id``)."""
    return {r[by]: (r["queue"], r["reason"]) for r in store.table_rows(counsellor_queue)}


def kinds(store: OpStore) -> dict[str, str]:
    """The suppression list: phone -> kind (``opt_out`` or ``undeliverable``)."""
    return {r["phone"]: r["kind"] for r in store.table_rows(suppression)}
