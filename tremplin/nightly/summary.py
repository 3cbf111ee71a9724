"""The end-of-night summary: what was read, matched, routed and published, from both stores."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue, sms_outbox
from connectors.warehouse import Warehouse
from tremplin import clock
from tremplin.settings import Settings


def collect(settings: Settings, run_date: date, *, finish: bool = False) -> dict[str, Any]:
    """Counts for one night; with ``finish``, also closes the run manifest with them."""
    store = OpStore(settings.opstore)
    with store.begin() as conn:
        sms_by_status: dict[str, int] = dict(
            conn.execute(
                sa.select(sms_outbox.c.status, sa.func.count())
                .where(sms_outbox.c.run_date == run_date)
                .group_by(sms_outbox.c.status)
            ).all()
        )
        segments = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(sms_outbox.c.segments), 0)).where(sms_outbox.c.run_date == run_date)
        ).scalar_one()
        queue_by_agency: dict[str, int] = dict(
            conn.execute(
                sa.select(counsellor_queue.c.agency_id, sa.func.count())
                .where(counsellor_queue.c.run_date == run_date)
                .group_by(counsellor_queue.c.agency_id)
            ).all()
        )
    with Warehouse.of(settings, read_only=not finish) as wh:
        files, top_reasons = inputs(wh, run_date)
        matches, matched_seekers, matched_vacancies = wh.execute("count_matches", {"run_date": run_date})[0]
        routing = routing_by_reason(wh, run_date)
        out: dict[str, Any] = {
            "run_date": run_date.isoformat(),
            "files": files,
            "top_quarantine_reasons": top_reasons,
            "matches": {"pairs": matches, "seekers": matched_seekers, "vacancies": matched_vacancies},
            "routing": routing,
            "routing_by_channel": by_channel(routing),
            "sms": {
                "written": sum(sms_by_status.values()),
                "by_status": sms_by_status,
                "segments": int(segments),
            },
            "queue": {"items": sum(queue_by_agency.values()), "agencies": len(queue_by_agency)},
        }
        if finish:
            wh.execute(
                "finish_run_manifest",
                {"run_date": run_date, "finished_at": clock.now(), "outputs_json": json.dumps(out)},
            )
    return out


def inputs(wh: Warehouse, run_date: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows read, loaded and quarantined per file, and the most frequent quarantine reasons."""
    files = [
        dict(zip(("file", "kind", "read", "loaded", "quarantined"), row, strict=True))
        for row in wh.execute("select_ingest_stats", {"run_date": run_date})
    ]
    reasons = [
        dict(zip(("file", "field", "reason", "rows"), row, strict=True))
        for row in wh.execute("select_top_quarantine_reasons", {"run_date": run_date})
    ]
    return files, reasons


def routing_by_reason(wh: Warehouse, run_date: date) -> list[dict[str, Any]]:
    """Seekers per channel and reason code."""
    return [
        dict(zip(("channel", "reason", "seekers"), row, strict=True))
        for row in wh.execute("count_routing_by_reason", {"run_date": run_date})
    ]


def by_channel(routing: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in routing:
        totals[row["channel"]] = totals.get(row["channel"], 0) + int(row["seekers"])
    return totals


def render(summary: dict[str, Any]) -> str:
    """The summary as the plain text the demo prints."""
    lines = [f"tremplin nightly run {summary['run_date']}", "", "Inputs (rows read / loaded / quarantined):"]
    for f in summary["files"]:
        lines.append(f"  {f['kind']:<9} {f['file']:<50} {f['read']:>9,} {f['loaded']:>9,} {f['quarantined']:>7,}")
    if summary["top_quarantine_reasons"]:
        lines.append("Top quarantine reasons:")
        for r in summary["top_quarantine_reasons"][:5]:
            lines.append(f"  {r['rows']:>6,}  {r['file']}: {r['field']}: {r['reason']}")
    m = summary["matches"]
    lines += [
        "",
        f"Matches: {m['pairs']:,} pairs for {m['seekers']:,} seekers and {m['vacancies']:,} vacancies",
        "",
        "Routing (seekers per channel and reason):",
    ]
    for channel, total in sorted(summary["routing_by_channel"].items()):
        lines.append(f"  {channel:<11} {total:>8,}")
        for r in summary["routing"]:
            if r["channel"] == channel:
                lines.append(f"      {r['reason']:<24} {r['seekers']:>8,}")
    sms = summary["sms"]
    status = ", ".join(f"{k} {v:,}" for k, v in sorted(sms["by_status"].items())) or "none"
    lines += [
        "",
        f"SMS written: {sms['written']:,} ({sms['segments']:,} segments; {status})",
        f"Counsellor queue items: {summary['queue']['items']:,} across {summary['queue']['agencies']:,} agencies",
    ]
    return "\n".join(lines)
