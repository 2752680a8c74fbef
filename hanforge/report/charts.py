"""Chart specs (plain data) and their inline-SVG rendering for ``hanforge report``.

The report draws its charts as inline SVG written here rather than with a charting library:
bench/report_plotting.py drew the same 13 charts four ways (BENCHMARKS.md, "HTML report"):
this SVG 60 KiB and 0.03 s; plotly with its plotly.js inlined (no CDN) 4.7 MiB, 2.9 s, and
about 20 s more for headless Chromium to load; matplotlib 533 KiB (SVG) or 182 KiB (PNG) and
23-36 s to draw. Plain SVG is small, needs no script, prints, and opens in any browser on a
login node. Every figure carries
``data-points`` (the number of non-zero values it draws) so a test can check it has data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

KEPT, DROPPED_HERE, DROPPED_ELSEWHERE = "#2b7bb9", "#d9534f", "#c9c9c9"
RUN_COLORS = ("#2b7bb9", "#e08a1e")


@dataclass(frozen=True)
class Series:
    """One named list of values drawn in one colour."""

    name: str
    values: list[float]
    color: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one row per label, series side by side (or stacked)."""

    title: str
    labels: list[str]
    series: list[Series]
    unit: str = "documents"
    stacked: bool = False


@dataclass(frozen=True)
class Threshold:
    """A configured limit drawn as a vertical line on a histogram."""

    value: float
    label: str


@dataclass(frozen=True)
class Histogram:
    """Stacked vertical bars over bin ``edges`` (len(values) == len(edges) - 1 per series)."""

    title: str
    edges: list[float]
    series: list[Series]
    thresholds: list[Threshold] = field(default_factory=list)
    log_x: bool = False
    unit: str = "documents"


Chart = BarChart | Histogram


def num_points(chart: Chart) -> int:
    """Non-zero values the chart draws (its ``data-points``)."""
    return sum(1 for s in chart.series for v in s.values if v)


def fmt(value: float) -> str:
    """Compact number: 1,234 / 12.3k / 4.56M / 0.123."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    value = int(value)
    for cut, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= cut:
            return f"{value / cut:.3g}{suffix}"
    return f"{value:,}"


def render(chart: Chart, *, width: int = 460) -> str:
    """The chart as a ``<figure class="plot">`` holding inline SVG and a legend (a note if it has no data)."""
    if not num_points(chart):
        return f'<p class="note">{escape(chart.title)}: nothing to draw (all zero)</p>'
    svg = _bars(chart, width) if isinstance(chart, BarChart) else _histogram(chart, width)
    legend = "".join(
        f'<span><i style="background:{s.color}"></i>{escape(s.name)}</span>'
        for s in chart.series
        if len(chart.series) > 1 or isinstance(chart, Histogram)
    )
    return (
        f'<figure class="plot" data-points="{num_points(chart)}"><figcaption>{escape(chart.title)}</figcaption>'
        f'{svg}<div class="legend">{legend}</div></figure>'
    )


def _text(x: float, y: float, s: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(s)}</text>'


def _bars(chart: BarChart, width: int) -> str:
    label_w = min(190, 14 + 7 * max((len(lb) for lb in chart.labels), default=4))
    plot_w = width - label_w - 60
    per_row = 1 if chart.stacked else len(chart.series)
    bar_h = 12 if per_row > 1 else 16
    row_h = bar_h * per_row + 8
    height = row_h * len(chart.labels) + 24
    totals = [sum(s.values[i] for s in chart.series) for i in range(len(chart.labels))]
    peak = max((totals if chart.stacked else [v for s in chart.series for v in s.values]), default=0) or 1
    out = [f'<svg viewBox="0 0 {width} {height}" role="img">']
    for i, label in enumerate(chart.labels):
        y0 = i * row_h + 4
        out.append(_text(label_w - 6, y0 + row_h / 2, label, anchor="end", cls="lab"))
        x = label_w
        for k, s in enumerate(chart.series):
            v = s.values[i]
            w = plot_w * v / peak
            y = y0 if chart.stacked else y0 + k * bar_h
            tip = f"{label} · {s.name}: {v:,} {chart.unit}"
            out.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5 if v else 0):.1f}" '
                f'height="{bar_h - 2}" fill="{s.color}"><title>{escape(tip)}</title></rect>'
            )
            if not chart.stacked and (v or len(chart.series) == 1):
                out.append(_text(x + w + 4, y + bar_h - 3, fmt(v), cls="val"))
            else:
                x += w
        if chart.stacked:
            out.append(_text(x + 4, y0 + bar_h - 3, fmt(totals[i]), cls="val"))
    out.append(_text(label_w, height - 6, chart.unit, cls="axis"))
    out.append("</svg>")
    return "".join(out)


def _histogram(chart: Histogram, width: int) -> str:
    top = 16 + 11 * max(len(chart.thresholds), 1)  # one label line per limit above the bars
    height, left, right, bottom = top + 170, 44, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(chart.edges) - 1
    stacks = [sum(s.values[i] for s in chart.series) for i in range(n)]
    peak = max(stacks, default=0) or 1
    lo, hi = chart.edges[0], chart.edges[-1]

    def xpos(v: float) -> float:
        if chart.log_x:
            a, b, v = math.log10(lo + 1), math.log10(hi + 1), math.log10(max(v, 0) + 1)
        else:
            a, b = lo, hi
        return left + plot_w * (min(max(v, a), b) - a) / ((b - a) or 1)

    out = [
        f'<svg viewBox="0 0 {width} {height}" role="img">',
        f'<line class="ax" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        f'<line class="ax" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        _text(left - 4, top + 8, fmt(peak), anchor="end", cls="axis"),
        _text(left - 4, top + plot_h, "0", anchor="end", cls="axis"),
    ]
    for i in range(n):
        x0, x1 = xpos(chart.edges[i]), xpos(chart.edges[i + 1])
        y = top + plot_h
        for s in chart.series:
            v = s.values[i]
            if not v:
                continue
            h = plot_h * v / peak
            y -= h
            tip = f"{fmt(chart.edges[i])}–{fmt(chart.edges[i + 1])} · {s.name}: {v:,} {chart.unit}"
            out.append(
                f'<rect class="mark" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 0.6, 0.8):.1f}" '
                f'height="{max(h, 0.8):.1f}" fill="{s.color}"><title>{escape(tip)}</title></rect>'
            )
    for k in range(5):
        v = _tick(chart, k / 4)
        out.append(_text(xpos(v), top + plot_h + 14, fmt(v), anchor="end" if k == 4 else "middle", cls="axis"))
    for j, t in enumerate(chart.thresholds):
        x = xpos(t.value)
        out.append(
            f'<line class="thr" x1="{x:.1f}" y1="{10 + 11 * j}" x2="{x:.1f}" y2="{top + plot_h}">'
            f"<title>{escape(t.label)}</title></line>"
        )
        anchor = "end" if x > left + plot_w * 0.6 else "start"
        dx = -3 if anchor == "end" else 3
        out.append(_text(x + dx, 19 + 11 * j, t.label, anchor=anchor, cls="thrlab"))
    out.append("</svg>")
    return "".join(out)


def _tick(chart: Histogram, frac: float) -> float:
    lo, hi = chart.edges[0], chart.edges[-1]
    if chart.log_x:
        v = 10 ** (math.log10(lo + 1) + frac * (math.log10(hi + 1) - math.log10(lo + 1))) - 1
        return float(round(v, -max(0, int(math.log10(max(v, 1))) - 1)))
    v = lo + frac * (hi - lo)
    return float(f"{v:.2g}") if hi - lo < 10 else float(round(v))
