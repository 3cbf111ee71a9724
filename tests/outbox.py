"""Outbox rows for tests: one place for what a queued SMS offer looks like in the operational store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

RUN_DATE = date(2026, 11, 23)


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
