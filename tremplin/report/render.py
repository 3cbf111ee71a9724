"""The run report as one self-contained HTML page (inline CSS and SVG: it opens offline, and prints)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from tremplin.labels import channel_label, reason_label
from tremplin.oversight.columns import ALL_AGENCIES
from tremplin.report import charts
from tremplin.report.labels import DIMENSIONS, METRICS

MAX_BARS = 15
HALF = 480  # charts shown two abreast


def _number(value: Any, digits: int = 0) -> str:
    """12345.6 -> '12 346' (French grouping, narrow no-break space); None -> '–'."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _percent(value: Any) -> str:
    return "–" if value is None else _number(100 * value, 1) + " %"


def _agency(entry: dict[str, Any]) -> str:
    """The agency's name, with its id unless the name already says it."""
    name, ident = entry["name"], entry["agency_id"]
    return name if ident in name else f"{name} ({ident})"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("tremplin.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["n"] = _number
    env.filters["pct"] = _percent
    env.filters["agency"] = _agency
    env.globals.update(dimensions=DIMENSIONS, metrics=METRICS)
    return env


def _charts(data: dict[str, Any]) -> dict[str, Markup | dict[str, Markup]]:
    m, f, o = data["matches"], data["funnel"], data["oversight"]
    overall = [r for r in o["trend"] if r["agency_id"] == ALL_AGENCIES]
    per_seeker = [(str(r["matches"]), r["seekers"]) for r in m["per_seeker"]]
    out: dict[str, Any] = {
        "per_seeker": charts.columns(per_seeker, title="Demandeurs par nombre d'offres proposées", width=HALF),
        "per_vacancy": charts.columns(
            [(r["bucket"], r["vacancies"]) for r in m["per_vacancy"]],
            title="Offres d'emploi par nombre de demandeurs retenus",
            width=HALF,
        ),
        "routing": charts.bars(
            [(channel_label(k), v) for k, v in sorted(data["routing"]["by_channel"].items())],
            title="Demandeurs par canal",
            width=HALF,
        ),
        "reasons": charts.bars(
            [
                (f"{channel_label(r['channel'])} · {reason_label(r['reason'])}", r["seekers"])
                for r in data["routing"]["by_reason"]
            ],
            title="Demandeurs par canal et motif",
            width=HALF,
        ),
        "freshness": charts.bars(
            [(r["band"], r["seekers"]) for r in data["freshness"]["by_age"]],
            title="Profils par ancienneté de la dernière mise à jour",
            alert=[not r["matched_on"] for r in data["freshness"]["by_age"]],
        ),
        "sms_funnel": charts.funnel(f["sms"], title="Parcours SMS", width=HALF),
        "counsellor_funnel": charts.funnel(f["counsellor"], title="Parcours conseiller", width=HALF),
        "backlog": charts.bars(
            [(_agency(b), b["open"]) for b in data["backlog"][:15]],
            title="Éléments en attente d'un premier appel, par agence (15 premières)",
        ),
        "overrides": charts.columns(
            [(r["period_start"][5:10], r["rate"]) for r in overall],
            title="Part des propositions corrigées ou rejetées par les conseillers, par semaine",
            unit="%",
            threshold=o["low_rate"],
            alert=[bool(r["rubber_stamp"]) for r in overall],
        ),
    }
    out["fairness"] = {}
    for (dimension, metric), rows in _fairness_groups(data["fairness"]["rows"]):
        judged = [r for r in rows if r["ratio"] is not None]
        lowest = ""
        if len(judged) > MAX_BARS:  # agencies: the lowest ratios are the ones to read
            judged = sorted(judged, key=lambda r: (r["ratio"], r["group"]))[:MAX_BARS]
            lowest = f" ({MAX_BARS} plus bas)"
        out["fairness"][f"{dimension}/{metric}"] = charts.bars(
            [(r["group"], r["ratio"]) for r in judged],
            title=f"{DIMENSIONS.get(dimension, dimension)} : {METRICS.get(metric, metric)}, "
            f"rapport au groupe le mieux servi{lowest}",
            unit="ratio",
            threshold=data["fairness"]["threshold"],
            alert=[bool(r["breach"]) for r in judged],
            scale_max=1.0,
            width=HALF,
        )
    return out


def _fairness_groups(rows: Iterable[dict[str, Any]]) -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["dimension"], row["metric"]), []).append(row)
    return list(grouped.items())


def render(data: dict[str, Any]) -> str:
    """The page for the report's data (see :func:`report.collect.collect`)."""
    template = _environment().get_template("report.html")
    return template.render(data=data, charts=_charts(data), fairness=_fairness_groups(data["fairness"]["rows"]))
