"""Server-side SVG charts: bars, histograms and a time line.

Rendered in Python so the panel needs no chart library, no CDN and no JavaScript: the same
markup shows on a phone, prints to PDF in the citizen-data report, and carries its numbers
as text (titles and labels) for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 140
WIDTH = 480


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: suppressed (too few to show safely)
    note: str = ""


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(bars: Sequence[Bar], *, title: str) -> Markup:
    """Horizontal bars, one per label; long labels wrap poorly in SVG, so they are cut."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    largest = max((b.value or 0 for b in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, bar in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        label = bar.label if len(bar.label) <= 20 else bar.label[:19] + "…"
        parts.append(
            f'<text class="bar-label" x="{LABEL_WIDTH - 6}" y="{y + 15}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        if bar.value is None:
            # The same marker whatever the reason (see results_macros.cell).
            parts.append(
                f'<text class="bar-value" x="{LABEL_WIDTH}" y="{y + 15}">x<title>hidden: fewer '
                "than 5 people, or a count that would let such a group be worked out</title></text>"
            )
            continue
        width = round(room * bar.value / largest, 1)
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width}" '
            f'height="{BAR_HEIGHT}"><title>{escape(bar.label)}: {bar.value}</title></rect>'
        )
        parts.append(
            f'<text class="bar-value" x="{LABEL_WIDTH + width + 4}" y="{y + 15}">'
            f"{bar.value}{escape(bar.note)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram_bins(values: Sequence[float], *, bins: int = 8) -> list[Bar]:
    """Equal-width bins over the observed range; whole numbers get whole-number edges so a
    label never reads "2.5–3.75 days"."""
    if not values:
        return []
    low, high = min(values), max(values)
    whole = all(float(v).is_integer() for v in values)
    if low == high:
        return [Bar(_fmt(low), len(values))]
    step = max(1, -(-int(high - low + 1) // bins)) if whole else (high - low) / bins
    count = int((high - low) // step) + 1 if whole else bins
    counts = [0] * count
    for value in values:
        counts[min(int((value - low) // step), count - 1)] += 1
    bars = []
    for index, number in enumerate(counts):
        lo = low + index * step
        if whole:
            label = _fmt(lo) if step == 1 else f"{_fmt(lo)}–{_fmt(lo + step - 1)}"
        else:
            label = f"{_fmt(lo)}–{_fmt(lo + step)}"
        bars.append(Bar(label, number))
    return bars


def line_chart(points: Sequence[tuple[str, float]], *, title: str, percent: bool = True) -> Markup:
    """A small line over time (e.g. cumulative response rate per day)."""
    height, left, bottom, top = 160, 40, 24, 10
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not points:
        parts.append(f'<text x="{left}" y="{height / 2}">No answers yet</text></svg>')
        return Markup("".join(parts))
    top_value = 100.0 if percent else max(v for _, v in points) or 1.0
    span = WIDTH - left - 10
    step = span / max(1, len(points) - 1)
    coords = []
    for index, (_, value) in enumerate(points):
        x = left + index * step if len(points) > 1 else left + span / 2
        y = top + (height - top - bottom) * (1 - value / top_value)
        coords.append((round(x, 1), round(y, 1)))
    axis = height - bottom
    parts.append(f'<line class="axis" x1="{left}" y1="{axis}" x2="{WIDTH - 10}" y2="{axis}"/>')
    parts.append(f'<text class="tick" x="{left - 4}" y="{top + 8}" text-anchor="end">')
    parts.append(f"{_fmt(top_value)}{'%' if percent else ''}</text>")
    path = " ".join(f"{x},{y}" for x, y in coords)
    parts.append(f'<polyline class="line" points="{path}" fill="none"/>')
    for (x, y), (label, value) in zip(coords, points, strict=True):
        suffix = "%" if percent else ""
        parts.append(
            f'<circle class="dot" cx="{x}" cy="{y}" r="3">'
            f"<title>{escape(label)}: {_fmt(value)}{suffix}</title></circle>"
        )
    parts.append(f'<text class="tick" x="{left}" y="{height - 6}">{escape(points[0][0])}</text>')
    if len(points) > 1:
        parts.append(
            f'<text class="tick" x="{WIDTH - 10}" y="{height - 6}" text-anchor="end">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
