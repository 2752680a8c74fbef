"""Which way to draw the report's charts: inline SVG (hanforge.report.charts) vs plotly vs matplotlib.

Run (from the repo root; needs ``pip install plotly matplotlib`` (the ``bench`` extra) and
Debian's ``chromium``)::

    PYTHONPATH=. python bench/report_plotting.py output/korean-web --work /tmp/report-plotting

The same charts (the report's: one histogram per signal column with kept / dropped-by-this-rule /
dropped-elsewhere stacks and the configured limits, plus the drop-reason bars) are drawn from
the same aggregates four ways, each as a self-contained page: inline SVG written by hanforge,
plotly with its bundled plotly.min.js inlined (no CDN), matplotlib as inline SVG, and
matplotlib as base64 PNG. For each: Python time to draw, HTML size, and the time headless
Chromium takes to load the page and dump the DOM after scripts ran (best of 3; an empty page
is timed in the same command as the baseline).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import time
from html import escape
from pathlib import Path

from hanforge.report.aggregate import CLASSES, aggregate
from hanforge.report.charts import BarChart, Histogram, Series, Threshold, render
from hanforge.report.output_folder import open_output
from hanforge.report.page import _CLASS_COLORS


def charts_of(folder: Path) -> list:
    agg = aggregate(open_output(folder))
    out: list = []
    reasons = agg.reasons["drop_reason"].to_list()
    out.append(BarChart("drop reasons", reasons, [Series("documents", agg.reasons["num_docs"].to_list(), "#d9534f")]))
    for h in agg.signals.values():
        drawn = [Threshold(lim.value, lim.label) for lim in h.limits if h.edges[0] <= lim.value <= h.edges[-1]]
        out.append(
            Histogram(
                h.signal.title,
                h.edges,
                [Series(c, h.counts[c], _CLASS_COLORS[c]) for c in CLASSES],
                drawn,
                log_x=h.signal.log_x,
            )
        )
    return out


def page(body: str, head: str = "") -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def svg_page(charts: list) -> str:
    return page("".join(render(c) for c in charts))


def plotly_page(charts: list) -> str:
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    divs = []
    for i, c in enumerate(charts):
        if isinstance(c, BarChart):
            fig = go.Figure(
                [go.Bar(y=c.labels, x=s.values, name=s.name, orientation="h", marker_color=s.color) for s in c.series]
            )
        else:
            mids = [(a + b) / 2 for a, b in zip(c.edges, c.edges[1:])]
            fig = go.Figure([go.Bar(x=mids, y=s.values, name=s.name, marker_color=s.color) for s in c.series])
            fig.update_layout(barmode="stack")
            for t in c.thresholds:
                fig.add_vline(x=t.value, line_dash="dash", annotation_text=t.label)
        fig.update_layout(title=c.title, width=460, height=260, margin=dict(l=40, r=10, t=40, b=30))
        divs.append(f'<div id="p{i}"></div><script>Plotly.newPlot("p{i}", {fig.to_json()});</script>')
    return page("".join(divs), f"<script>{get_plotlyjs()}</script>")


def matplotlib_page(charts: list, *, fmt: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = []
    for c in charts:
        fig, ax = plt.subplots(figsize=(4.6, 2.6), dpi=100)
        if isinstance(c, BarChart):
            for s in c.series:
                ax.barh(c.labels, s.values, color=s.color, label=s.name)
        else:
            bottom = [0.0] * (len(c.edges) - 1)
            widths = [b - a for a, b in zip(c.edges, c.edges[1:])]
            for s in c.series:
                ax.bar(c.edges[:-1], s.values, width=widths, bottom=bottom, align="edge", color=s.color, label=s.name)
                bottom = [b + v for b, v in zip(bottom, s.values)]
            for t in c.thresholds:
                ax.axvline(t.value, linestyle="--", color="black")
            if c.log_x:
                ax.set_xscale("symlog")
        ax.set_title(c.title, fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        parts.append(
            data.decode("utf-8").split("?>", 1)[-1]
            if fmt == "svg"
            else f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        )
    return page("".join(parts))


def chromium_seconds(path: Path, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
            capture_output=True,
            check=True,
            timeout=300,
        )
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="a hanforge run output folder")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    charts = charts_of(args.output)
    empty = args.work / "empty.html"
    empty.write_text(page(""), encoding="utf-8")
    base = chromium_seconds(empty)
    rows = []
    for name, build in (
        ("inline SVG (hanforge)", svg_page),
        ("plotly + inlined plotly.js", plotly_page),
        ("matplotlib SVG", lambda c: matplotlib_page(c, fmt="svg")),
        ("matplotlib PNG base64", lambda c: matplotlib_page(c, fmt="png")),
    ):
        t = time.perf_counter()
        html = build(charts)
        seconds = time.perf_counter() - t
        path = args.work / (name.split()[0] + ("-png" if "PNG" in name else "") + ".html")
        path.write_text(html, encoding="utf-8")
        load = chromium_seconds(path)
        rows.append(
            {
                "approach": name,
                "charts": len(charts),
                "python_s": round(seconds, 3),
                "html_kib": round(path.stat().st_size / 1024, 1),
                "chromium_s": round(load, 2),
                "chromium_minus_empty_s": round(load - base, 2),
            }
        )
        print(json.dumps(rows[-1]))
    print(f"empty page in chromium: {base:.2f} s")
    print("| approach | charts | Python draw (s) | HTML (KiB) | Chromium load+dump (s) | minus empty page (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {escape(r['approach'])} | {r['charts']} | {r['python_s']} | {r['html_kib']} | {r['chromium_s']} | "
            f"{r['chromium_minus_empty_s']} |"
        )


if __name__ == "__main__":
    main()
