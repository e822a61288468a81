"""Charts drawn by the server as inline SVG: no script, no CDN, readable by screen readers.

Each chart is an ``<svg role="img">`` with an ``aria-label`` and a ``<title>`` naming it, and a
``<title>`` on every bar with its label and value, so a chart says what it shows without sight.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

Number = int | float | Decimal


def _fmt(value: Number) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{Decimal(str(value)):,.2f}"


def bar_chart(
    title: str,
    data: Sequence[tuple[str, Number]],
    *,
    unit: str = "",
    width: int = 520,
    bar_height: int = 22,
    label_width: int = 170,
    empty_text: str = "No data",
) -> Markup:
    """A horizontal bar chart of ``(label, value)`` pairs, in the given order, as SVG markup.

    ``unit`` is written after each value (a currency code, say). Negative values draw as zero.
    """
    gap = 6
    top = 4
    value_width = 110
    plot = max(width - label_width - value_width, 40)
    rows = list(data)
    height = top * 2 + max(len(rows), 1) * (bar_height + gap)
    biggest = max((float(v) for _, v in rows), default=0.0)
    suffix = f" {unit}" if unit else ""
    summary = "; ".join(f"{label}: {_fmt(value)}{suffix}" for label, value in rows) or empty_text
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-label={quoteattr(f"{title}: {summary}")}>',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + bar_height - 6}" class="chart-empty">{escape(empty_text)}</text>')
    for index, (label, value) in enumerate(rows):
        y = top + index * (bar_height + gap)
        length = 0.0 if biggest <= 0 else max(float(value), 0.0) / biggest * plot
        shown = label if len(label) <= 24 else label[:23] + "…"
        text_y = y + bar_height * 0.7
        parts.append(
            f'<g class="bar"><title>{escape(label)}: {escape(_fmt(value) + suffix)}</title>'
            f'<text x="{label_width - 6}" y="{text_y:.1f}" text-anchor="end" class="chart-label">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" class="chart-bar"'
            f' fill="#b35900"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{text_y:.1f}" class="chart-value">'
            f"{escape(_fmt(value) + suffix)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
