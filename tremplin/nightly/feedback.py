"""First step of the night: the answers to earlier offers, mirrored from the operational store into the warehouse."""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.opstore import OpStore
from connectors.warehouse import Warehouse
from tremplin.nightly.common import run_end
from tremplin.settings import Settings


def sync_feedback(settings: Settings, run_date: date) -> dict[str, Any]:
    """First task of the night: mirror the answers to earlier offers into the warehouse's feedback table."""
    events = OpStore(settings.opstore).feedback_events(until=run_end(run_date))
    with Warehouse.of(settings) as wh, wh.transaction():
        wh.execute("upsert_feedback", None, {"staged_feedback": events})
    return {"feedback_events": events.height, "positive": int(events["label"].sum()) if events.height else 0}
