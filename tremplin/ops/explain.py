"""Why a seeker got these offers: the data used and the weights applied (CRPA L311-3-1)."""

from __future__ import annotations

from datetime import date

from connectors.reference import cached_reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.explain import EXPLANATION, MATCHED_LABELS, MISSING_LABELS, with_explanations
from tremplin.errors import TremplinError
from tremplin.labels import relation_label
from tremplin.settings import Settings


def latest_night(settings: Settings, seeker_id: str) -> date:
    """The last night that matched this seeker (else the last night that matched anyone)."""
    with Warehouse.of(settings, read_only=True) as wh:
        night = wh.scalar("select_latest_night", {"seeker_id": seeker_id})
    if night is None:
        raise TremplinError(f"the warehouse {settings.warehouse} holds no night yet: run tremplin nightly first")
    return night if isinstance(night, date) else date.fromisoformat(str(night))


def explain_seeker(settings: Settings, seeker_id: str, run_date: date) -> str:
    """A plain-text account of one seeker's data, the weights and each match of the night."""
    ref = cached_reference(str(settings.data_dir))
    labels = dict(ref.rome.items.select("item_code", "label").iter_rows())
    sheets = dict(ref.rome.sheets.select(c.ROME_CODE, "label").iter_rows())
    with Warehouse.of(settings, read_only=True) as wh:
        profile = wh.frame("select_seeker", {"seeker_id": seeker_id})
        matches = wh.frame("select_seeker_matches", {"seeker_id": seeker_id, "run_date": run_date})
    if profile.is_empty():
        raise TremplinError(f"no seeker with id {seeker_id!r} in the warehouse")
    p = profile.row(0, named=True)
    lines = [
        f"Seeker {seeker_id}, night of {run_date.isoformat()}",
        "",
        "Data used:",
        f"  commune {p[c.COMMUNE]}, mobility radius {p[c.RADIUS_KM]:g} km",
        f"  desired occupations: {', '.join(f'{r} {sheets.get(r, r)}' for r in p[c.ROME_CODES] or []) or 'none'}",
        f"  skills ({len(p[c.ITEM_CODES] or [])}): "
        + "; ".join(labels.get(s, s) for s in (p[c.ITEM_CODES] or [])[:12]),
        f"  contracts accepted: {', '.join(p[c.CONTRACT_TYPES]) or 'any'}; working time: {p[c.WORKING_TIME]}; "
        f"driving licence: {'yes' if p[c.DRIVING_LICENCE] else 'no'}; experience: {p[c.EXPERIENCE_MONTHS]} months",
        "  not used: gender, age, disability (kept apart, only for the fairness audit)",
        "",
        f"Weights: skills {settings.weight_skill:g}, occupation {settings.weight_occupation:g}, "
        f"distance {settings.weight_distance:g}; minimum score {settings.min_score:g}",
        "",
    ]
    if matches.is_empty():
        lines.append("No match this night.")
        return "\n".join(lines)
    matches = with_explanations(matches, ref.rome.items.select("item_code", "label"))
    first = matches.row(0, named=True)
    lines.append(f"Routing: {first[c.CHANNEL] or 'not routed'} ({first[c.REASON] or '-'})")
    for m in matches.iter_rows(named=True):
        offered = "  <- offered tonight" if m["offered_tonight"] else ""
        lines += [
            "",
            f"#{m[c.RANK]} {m[c.VACANCY_ID]} {m[c.TITLE]} ({m['vacancy_commune']}, {m[c.DISTANCE_KM]:.1f} km, "
            f"{m[c.CONTRACT_TYPE]}) score {m[c.SCORE]:.3f}{offered}",
            f"   = {settings.weight_skill:g} x skills {m[c.SKILL_SCORE]:.3f} + {settings.weight_occupation:g} x "
            f"occupation {m[c.OCCUPATION_SCORE]:.2f} ({relation_label(m[c.OCCUPATION_RELATION])}) + "
            f"{settings.weight_distance:g} x distance {m[c.DISTANCE_SCORE]:.3f}",
            "   matched skills: " + ("; ".join(m[MATCHED_LABELS]) or "none"),
            "   missing required skills: " + ("; ".join(m[MISSING_LABELS]) or "none"),
            f"   {m[EXPLANATION]}",
        ]
    return "\n".join(lines)
