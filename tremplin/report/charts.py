"""Charts as inline SVG: no script, no network, readable printed or zoomed, with text a screen reader finds.

Each function takes plain rows and returns one ``<svg>`` element as markup for the page. Bars carry
their value as text beside them, so the chart reads without hovering.

>>> svg = bars([("SMS", 3), ("conseiller", 1)], title="Canal")
>>> svg.count("<rect") >= 2 and "conseiller" in svg
True
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

INK, MUTED, GRID = "#1f2933", "#52606d", "#cbd2d9"
BAR, ALERT, GOOD = "#2f5fa7", "#b42318", "#2f7d4f"
FONT = "font-family:system-ui,sans-serif;font-size:12px"
TITLE_H = 24


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value:.2f}"
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:,.2f}".replace(",", "\u202f")


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    """The chart under its visible title (also the accessible name), the body shifted below it."""
    ident = "c" + hashlib.sha1((title + "".join(body)).encode()).hexdigest()[:10]  # stable across runs
    lines = textwrap.wrap(title, width=max(width // 7, 20))  # about 7 px a character at 13 px
    shown = "".join(
        f'<text x="0" y="{14 + 16 * i}" fill="{INK}" font-weight="600" font-size="13">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    top = TITLE_H + 16 * (len(lines) - 1)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + top}" width="100%" '
        f'style="max-width:{width}px;{FONT}" role="img" aria-labelledby="{ident}">'
        f'<title id="{ident}">{escape(title)}</title>{shown}'
        f'<g transform="translate(0,{top})">' + "".join(body) + "</g></svg>"
    )


def bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    threshold: float | None = None,
    alert: Sequence[bool] | None = None,
    scale_max: float | None = None,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one per (label, value); ``threshold`` draws a dashed line, ``alert`` colours bars red."""
    label_w, value_w, row_h, top = 190, 70, 22, 8
    plot_w = width - label_w - value_w
    top_value = max([scale_max or 0.0, threshold or 0.0, *(v for _, v in rows)]) or 1.0
    height = top + row_h * max(len(rows), 1) + 8
    body: list[str] = []
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        w = max(plot_w * value / top_value, 0.0)
        colour = ALERT if alert and alert[i] else BAR
        short = label if len(label) <= 28 else label[:27] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" fill="{INK}">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" fill="{INK}">{escape(_fmt(value, unit))}</text>'
        )
    if not rows:
        body.append(f'<text x="{label_w}" y="{top + 15}" fill="{MUTED}">aucune donnée</text>')
    if threshold is not None:
        x = label_w + plot_w * threshold / top_value
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 4}" stroke="{ALERT}" '
            f'stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title, body)


def funnel(stages: Sequence[tuple[str, int]], *, title: str, width: int = 640) -> Markup:
    """A funnel: each stage's count, its bar, and its share of the first stage."""
    label_w, value_w, row_h = 190, 120, 26
    plot_w = width - label_w - value_w
    first = stages[0][1] if stages and stages[0][1] else 0
    height = row_h * max(len(stages), 1) + 10
    body: list[str] = []
    for i, (label, count) in enumerate(stages):
        y = 4 + i * row_h
        w = plot_w * count / first if first else 0.0
        x = label_w + (plot_w - w) / 2
        share = f" ({count / first:.0%})" if first and i else ""
        body.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" fill="{INK}">{escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{GOOD}"/>'
            f'<text x="{label_w + plot_w + 6}" y="{y + 17}" fill="{INK}">{escape(_fmt(count, ""))}{share}</text>'
        )
    return _svg(width, height, title, body)


def columns(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    threshold: float | None = None,
    alert: Sequence[bool] | None = None,
    width: int = 640,
    height: int = 200,
) -> Markup:
    """Vertical bars (a histogram or a series over time), labels under each bar, values above."""
    left, bottom, top = 8, 34, 18
    plot_h = height - bottom - top
    n = max(len(rows), 1)
    slot = (width - 2 * left) / n
    top_value = max([threshold or 0.0, *(v for _, v in rows)]) or 1.0
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" stroke="{GRID}"/>']
    for i, (label, value) in enumerate(rows):
        h = plot_h * value / top_value
        x = left + i * slot + slot * 0.15
        colour = ALERT if alert and alert[i] else BAR
        centre = x + slot * 0.35
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" fill="{colour}"/>'
            f'<text x="{centre:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" fill="{INK}">'
            f"{escape(_fmt(value, unit))}</text>"
            f'<text x="{centre:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
        )
    if threshold is not None:
        y = top + plot_h - plot_h * threshold / top_value
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - left}" y2="{y:.1f}" stroke="{ALERT}" stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title, body)
