"""The report page: one self-contained HTML file (inline CSS, SVG and a few lines of script).

:func:`build_report` aggregates one output folder (or two, side by side, with differences
highlighted) and writes the page. Nothing is loaded at view time: no CDN, no fonts, no network.
Every piece of document text and every name from the data is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import time
from html import escape
from pathlib import Path

import polars as pl
import pyarrow as pa

from hanforge import __version__
from hanforge.atomic import atomic_write_bytes
from hanforge.errors import ShardError
from hanforge.report.aggregate import CLASSES, Aggregates, aggregate, shared_ranges
from hanforge.report.charts import (
    DROPPED_ELSEWHERE,
    DROPPED_HERE,
    KEPT,
    RUN_COLORS,
    BarChart,
    Histogram,
    Series,
    Threshold,
    render,
)
from hanforge.report.output_folder import open_output
from hanforge.report.samples import SampleSet, collect_samples

_CLASS_COLORS = dict(zip(CLASSES, (KEPT, DROPPED_HERE, DROPPED_ELSEWHERE)))

CSS = """
:root{--fg:#1d2330;--mut:#667085;--bg:#fff;--card:#f6f7f9;--line:#e3e6ea;--diff:#fff1c2;--acc:#2b7bb9}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 "Noto Sans CJK KR","Noto Sans KR","Apple SD Gothic Neo",
"Malgun Gothic","Nanum Gothic",system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:18px 28px;background:#1d2330;color:#fff}header h1{margin:0;font-size:20px}
header .meta{color:#c9d1dc;font-size:12px;margin-top:4px}nav{position:sticky;top:0;z-index:2;background:#fff;
border-bottom:1px solid var(--line);padding:6px 28px;font-size:13px}nav a{margin-right:14px;color:var(--acc);
text-decoration:none}main{padding:8px 28px 40px;max-width:1500px}h2{margin:28px 0 8px;font-size:17px;
border-bottom:2px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:16px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:var(--card);border-radius:8px;padding:10px 14px;
min-width:150px}.card b{display:block;font-size:20px}.card span{color:var(--mut);font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:14px}
.pair{display:grid;grid-template-columns:repeat(2,minmax(0,600px));gap:14px;grid-column:1/-1}.plot{margin:0;background:var(--card);border-radius:8px;padding:8px 10px}
.plot figcaption{font-weight:600;font-size:13px;margin-bottom:2px}.plot svg{display:block;width:100%;height:auto}
.plot text{font-size:11px;fill:var(--fg)}.plot .axis{fill:var(--mut);font-size:10px}.plot .val{fill:var(--mut);font-size:10px}
.plot .ax{stroke:#98a2b3}.plot .thr{stroke:#111;stroke-width:1.5;stroke-dasharray:4 3}
.plot .thrlab{font-size:10px;font-weight:600}.plot .mark:hover{opacity:.75}.legend{font-size:11px;color:var(--mut)}
.legend span{margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.off{font-size:11px;color:var(--mut)}table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border-bottom:1px solid var(--line);padding:3px 10px;text-align:right;white-space:nowrap}
th{background:var(--card)}td:first-child,th:first-child{text-align:left}td.diff{background:var(--diff);font-weight:600}
.cols{display:grid;grid-template-columns:repeat(var(--n),minmax(0,1fr));gap:16px}
.sample{border:1px solid var(--line);border-radius:6px;padding:6px 10px;margin:6px 0;background:#fff}
.sample .m{font-size:11px;color:var(--mut);word-break:break-all}.sample pre{white-space:pre-wrap;word-break:break-word;
margin:4px 0 0;font-family:inherit;font-size:13px;line-height:1.5;max-height:9em;overflow:auto}.run-a{color:#2b7bb9}.run-b{color:#c46f00}
.note{color:var(--mut);font-size:12px}input[type=search]{padding:4px 8px;width:320px;font:inherit}
"""

# Filters the sample documents by a search box; everything else is static.
SCRIPT = """
(function(){var box=document.getElementById('sample-filter');if(!box)return;
box.addEventListener('input',function(){var q=box.value.toLowerCase();
document.querySelectorAll('.sample').forEach(function(el){
el.style.display=!q||el.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});
document.body.setAttribute('data-script','ok');})();
"""


def build_report(output: str | Path, *, compare: str | Path | None = None, out: str | Path | None = None) -> Path:
    """Write the HTML report of ``output`` (and ``compare`` beside it) to ``out``; return its path."""
    started = time.perf_counter()
    folders = [open_output(output)] + ([open_output(compare)] if compare is not None else [])
    try:
        scans = [(lf, lf.collect_schema()) for f in folders if (lf := f.scan_text()) is not None]
        ranges = shared_ranges(scans) if len(folders) > 1 else None
        aggs = [aggregate(f, ranges=ranges) for f in folders]
        samples = [collect_samples(a) for a in aggs]
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as exc:
        names = " or ".join(str(f.path) for f in folders)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShardError(f"{names}: a shard cannot be read ({reason}); rerun the command that wrote it") from None
    html = render_page(aggs, samples, seconds=time.perf_counter() - started)
    path = Path(out) if out is not None else Path(output) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, html.encode("utf-8"))
    return path


def _table(head: list[str], rows: list[list[str]], *, diff_cols: tuple[int, ...] = ()) -> str:
    """A table; in rows whose ``diff_cols`` cells differ, those cells are highlighted."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        differs = len({row[i] for i in diff_cols}) > 1 if diff_cols else False
        cells = "".join(
            f'<td class="diff">{c}</td>' if differs and i in diff_cols else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    return "".join(out) + "</table>"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _names(aggs: list[Aggregates]) -> list[str]:
    return [f"{'AB'[i]}: {a.folder.label}" if len(aggs) > 1 else a.folder.label for i, a in enumerate(aggs)]


def render_page(
    aggs: list[Aggregates], samples: list[tuple[list[SampleSet], list[SampleSet]]], *, seconds: float
) -> str:
    """The whole page as a string."""
    names = _names(aggs)
    sections = [
        ("overview", "Overview", _overview(aggs, names)),
        ("funnel", "Funnel", _funnel(aggs, names)),
        ("signals", "Signals: kept vs excluded", _signals(aggs, names)),
        ("pii", "PII", _pii(aggs, names)),
        ("dedup", "Dedup clusters", _dedup(aggs, names)),
        ("mix", "Mix: plan vs achieved", _mix(aggs, names)),
        ("tokens", "Token shards", _tokens(aggs, names)),
        ("samples", "Sample documents", _samples(samples, names)),
    ]
    sections = [s for s in sections if s[2]]
    nav = "".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{escape(title)}</h2>{html}</section>' for sid, title, html in sections)
    title = " vs ".join(str(a.folder.path) for a in aggs)
    meta = " · ".join(
        f"{escape(n)}: {escape(a.folder.kind)}, config {escape(str(a.folder.manifest.get('config_fingerprint', '–'))[:12])}"
        for n, a in zip(names, aggs)
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>hanforge report · {escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>hanforge report · {escape(title)}</h1><div class="meta">{meta}<br>'
        f"hanforge {__version__} · made {stamp} in {seconds:.1f} s</div></header><nav>{nav}</nav>"
        f"<main>{body}</main><script>{SCRIPT}</script></body></html>"
    )


def _overview(aggs: list[Aggregates], names: list[str]) -> str:
    metrics = [
        ("documents", lambda a: f"{a.num_docs:,}"),
        ("kept", lambda a: f"{a.num_kept:,} ({_pct(a.num_kept, a.num_docs)})"),
        ("excluded", lambda a: f"{a.num_docs - a.num_kept:,}"),
        ("characters kept", lambda a: f"{a.chars_kept:,}"),
        ("characters excluded", lambda a: f"{a.chars_excluded:,}"),
        ("input bytes (stats.json)", lambda a: f"{a.folder.stats.get('bytes', {}).get('input', 0):,}"),
        ("text shard files", lambda a: f"{len(a.folder.text_files):,}"),
        ("token shard files", lambda a: f"{len(a.folder.token_files):,}"),
    ]
    if len(aggs) == 1:
        a = aggs[0]
        return (
            '<div class="cards">'
            + "".join(f'<div class="card"><b>{v(a)}</b><span>{escape(k)}</span></div>' for k, v in metrics)
            + "</div>"
        )
    rows = [[escape(k), *(v(a) for a in aggs)] for k, v in metrics]
    return _table(["", *names], rows, diff_cols=(1, 2))


def _funnel(aggs: list[Aggregates], names: list[str]) -> str:
    if not any(a.funnel for a in aggs):
        return ""
    steps = list(dict.fromkeys(s.step for a in aggs for s in a.funnel))
    by_step = [{s.step: s for s in a.funnel} for a in aggs]
    head = ["step"]
    for n in names:
        head += [f"{n} docs in", "dropped", "chars in", "chars dropped"]
    rows = []
    for step in steps:
        row = [escape(step)]
        for m in by_step:
            s = m.get(step)
            row += (
                [f"{s.docs_in:,}", f"{s.docs_dropped:,}", f"{s.chars_in:,}", f"{s.chars_dropped:,}"] if s else ["–"] * 4
            )
        rows.append(row)
    diff = (2, 6) if len(aggs) > 1 else ()
    charts = _drop_reason_charts(aggs, names) + _step_charts(aggs, names) + _source_charts(aggs, names)
    return "".join(
        [
            _table(head, rows, diff_cols=diff),
            '<p class="note">Characters are counted as each document left the pipeline (kept: final text; '
            "dropped: its text at the dropping step), so the character funnel shows what each drop removed, "
            "not what extraction or boilerplate removal shortened.</p>",
            f'<div class="grid">{"".join(charts)}</div>',
        ]
    )


def _drop_reason_charts(aggs: list[Aggregates], names: list[str]) -> list[str]:
    """Drop reasons by documents and by characters, one series per output folder."""
    charts = []
    for unit, col in (("documents", "num_docs"), ("characters", "num_chars")):
        reasons = list(
            dict.fromkeys(r for a in aggs if a.reasons is not None for r in a.reasons["drop_reason"].to_list())
        )
        if not reasons:
            continue
        series = []
        for i, a in enumerate(aggs):
            m = dict(zip(a.reasons["drop_reason"].to_list(), a.reasons[col].to_list())) if a.reasons is not None else {}
            series.append(
                Series(
                    names[i], [int(m.get(r, 0) or 0) for r in reasons], RUN_COLORS[i] if len(aggs) > 1 else DROPPED_HERE
                )
            )
        charts.append(render(BarChart(f"drop reasons by {unit}", reasons, series, unit=unit)))
    return charts


def _stacked(title: str, labels: list[str], kept: Series, dropped: Series) -> str:
    return render(BarChart(title, labels, [kept, dropped], stacked=True))


def _step_charts(aggs: list[Aggregates], names: list[str]) -> list[str]:
    """Documents passed and dropped per step, one chart per output folder."""
    return [
        _stacked(
            f"documents per step · {names[i]}",
            [s.step for s in a.funnel],
            Series("passed", [s.docs_out for s in a.funnel], KEPT),
            Series("dropped", [s.docs_dropped for s in a.funnel], DROPPED_HERE),
        )
        for i, a in enumerate(aggs)
        if a.funnel
    ]


def _source_charts(aggs: list[Aggregates], names: list[str]) -> list[str]:
    """Documents kept and excluded per source, one chart per output folder."""
    charts = []
    for i, a in enumerate(aggs):
        if a.sources is None or not a.sources.height:
            continue
        srcs = sorted(set(a.sources["source"].to_list()), key=str)
        m = {(s, k): n for s, k, n, _ in a.sources.iter_rows()}
        charts.append(
            _stacked(
                f"documents per source · {names[i]}",
                [str(s) for s in srcs],
                Series("kept", [m.get((s, True), 0) for s in srcs], KEPT),
                Series("excluded", [m.get((s, False), 0) for s in srcs], DROPPED_HERE),
            )
        )
    return charts


def _signals(aggs: list[Aggregates], names: list[str]) -> str:
    columns = list(dict.fromkeys(c for a in aggs for c in a.signals))
    if not columns:
        return ""
    figs = []
    for col in columns:
        row = []
        for i, a in enumerate(aggs):
            h = a.signals.get(col)
            if h is None:
                continue
            lo, hi = h.edges[0], h.edges[-1]
            drawn = [Threshold(lim.value, lim.label) for lim in h.limits if lo <= lim.value <= hi]
            off = [lim.label for lim in h.limits if not lo <= lim.value <= hi]
            title = h.signal.title + (f" · {names[i]}" if len(aggs) > 1 else "")
            series = [Series(name, h.counts[name], _CLASS_COLORS[name]) for name in CLASSES]
            fig = render(Histogram(title, h.edges, series, drawn, log_x=h.signal.log_x))
            if off:
                fig = fig.replace(
                    "</figure>", f'<div class="off">off the chart: {escape(", ".join(off))}</div></figure>'
                )
            row.append(fig)
        figs.append(f'<div class="pair">{"".join(row)}</div>' if len(row) > 1 else "".join(row))
    return (
        '<p class="note">Stacked counts per bin; dashed lines are the limits configured in the run '
        "(manifest.json). Documents dropped before a signal was computed have no value and are not counted."
        f'</p><div class="grid">{"".join(figs)}</div>'
    )


def _pii(aggs: list[Aggregates], names: list[str]) -> str:
    charts = []
    for title, attr, unit in (
        ("PII replacements by type (stats.json)", "pii_spans", "replacements"),
        ("kept documents with PII, by type", "pii_docs", "documents"),
    ):
        types = sorted({t for a in aggs for t in getattr(a, attr)})
        if types:
            series = [
                Series(names[i], [getattr(a, attr).get(t, 0) for t in types], RUN_COLORS[i]) for i, a in enumerate(aggs)
            ]
            charts.append(render(BarChart(title, types, series, unit=unit)))
    if not charts:
        return (
            '<p class="note">No PII was replaced (or the PII step did not run).</p>'
            if any(a.schema is not None and "num_pii" in a.schema for a in aggs)
            else ""
        )
    return f'<div class="grid">{"".join(charts)}</div>'


def _dedup(aggs: list[Aggregates], names: list[str]) -> str:
    if not any(a.cluster_sizes is not None for a in aggs):
        return ""
    parts, charts = [], []
    for i, a in enumerate(aggs):
        st = a.folder.stats
        if a.cluster_sizes is None:
            continue
        sizes = [str(s) for s in a.cluster_sizes["dup_cluster_size"].to_list()]
        charts.append(
            render(
                BarChart(
                    f"clusters by size · {names[i]}",
                    sizes,
                    [Series("clusters", a.cluster_sizes["num_clusters"].to_list(), KEPT)],
                    unit="clusters",
                )
            )
        )
        docs = st.get("documents", {})
        parts.append(
            f"<h3>{escape(names[i])}</h3><p>exact duplicates removed {docs.get('exact_duplicate', 0):,} · "
            f"near duplicates removed {docs.get('near_duplicate', 0):,} · clusters {st.get('clusters', 0):,} · "
            f"largest {st.get('largest_cluster', 0):,}</p>"
        )
        if a.largest_clusters is not None and a.largest_clusters.height:
            rows = [
                [
                    escape(r["id"]),
                    f"{r['dup_cluster_size']:,}",
                    escape(str(r["source"])),
                    f'<span style="white-space:normal">{escape(r["excerpt"][:160])}</span>',
                ]
                for r in a.largest_clusters.to_dicts()
            ]
            parts.append(_table(["kept id", "cluster size", "source", "text"], rows))
    return f'<div class="grid">{"".join(charts)}</div>' + "".join(parts)


def _mix(aggs: list[Aggregates], names: list[str]) -> str:
    charts, tables = [], []
    for i, a in enumerate(aggs):
        sources = a.folder.manifest.get("sources") if a.folder.kind == "mix" else None
        if not sources:
            continue
        unit = a.folder.manifest.get("unit", "tokens")
        labels = sorted(sources)
        charts.append(
            render(
                BarChart(
                    f"{unit} per source · {names[i]}",
                    labels,
                    [
                        Series("planned", [int(sources[s].get("planned", 0)) for s in labels], "#98a2b3"),
                        Series("achieved", [int(sources[s].get("achieved", 0)) for s in labels], KEPT),
                    ],
                    unit=unit,
                )
            )
        )
        rows = [
            [
                escape(s),
                f"{sources[s].get('planned', 0):,}",
                f"{sources[s].get('achieved', 0):,}",
                f"{sources[s].get('ratio_planned', 0):.3f}",
                f"{sources[s].get('ratio_achieved', 0):.3f}",
                f"{sources[s].get('epochs', 0):.2f}",
                f"{sources[s].get('num_docs_sampled', 0):,}",
            ]
            for s in labels
        ]
        tables.append(
            f"<h3>{escape(names[i])}</h3>"
            + _table(
                ["source", f"planned {unit}", "achieved", "ratio planned", "ratio achieved", "epochs", "docs sampled"],
                rows,
                diff_cols=(1, 2),
            )
        )
    return f'<div class="grid">{"".join(charts)}</div>' + "".join(tables) if charts else ""


def _tokens(aggs: list[Aggregates], names: list[str]) -> str:
    if not any(a.tokens for a in aggs):
        return ""
    metrics = [
        ("rows", "num_rows"),
        ("sequence length", "seq_len"),
        ("document segments", "num_segments"),
        ("rows continuing a document", "num_continued"),
        ("padding tokens", "num_pad_tokens"),
    ]
    rows = [[k, *(f"{a.tokens.get(key, 0):,}" if a.tokens else "–" for a in aggs)] for k, key in metrics]
    rows.append(
        ["tokens (manifest)", *(f"{a.folder.manifest.get('num_tokens', 0):,}" if a.tokens else "–" for a in aggs)]
    )
    rows.append(
        [
            "packing efficiency",
            *(
                f"{a.tokens['packing_efficiency']:.4f}" if a.tokens.get("packing_efficiency") is not None else "–"
                for a in aggs
            ),
        ]
    )
    charts = []
    for i, a in enumerate(aggs):
        if a.doc_len_hist:
            edges, counts = a.doc_len_hist
            charts.append(
                render(
                    Histogram(
                        f"document segment length (tokens) · {names[i]}",
                        edges,
                        [Series("segments", counts, KEPT)],
                        [Threshold(a.tokens["seq_len"], f"seq_len {a.tokens['seq_len']}")]
                        if a.tokens.get("seq_len")
                        else [],
                        log_x=True,
                        unit="segments",
                    )
                )
            )
        srcs = a.folder.manifest.get("sources") if a.folder.kind == "token-shards" else None
        if srcs:
            labels = sorted(srcs)
            charts.append(
                render(
                    BarChart(
                        f"tokens per source · {names[i]}",
                        labels,
                        [Series("tokens", [int(srcs[s].get("num_tokens", 0)) for s in labels], KEPT)],
                        unit="tokens",
                    )
                )
            )
    return (
        _table(["", *names], rows, diff_cols=(1, 2) if len(aggs) > 1 else ())
        + f'<div class="grid">{"".join(charts)}</div>'
    )


def _sample_html(row: dict, value_col: str | None) -> str:
    meta = [f"id {row.get('id')}", f"source {row.get('source')}"]
    if row.get("url"):
        meta.append(str(row["url"]))
    if row.get("drop_step"):
        meta.append(f"step {row['drop_step']}")
    meta.append(f"{row.get('num_chars', 0):,} chars")
    if value_col and row.get(value_col) is not None:
        meta.append(f"{value_col} = {row[value_col]:.4g}")
    excerpt = row.get("excerpt") or "(no text: dropped before decoding)"
    return f'<div class="sample"><div class="m">{escape(" · ".join(meta))}</div><pre>{escape(excerpt)}</pre></div>'


def _samples(samples: list[tuple[list[SampleSet], list[SampleSet]]], names: list[str]) -> str:
    n = len(samples)
    out = ['<p><input type="search" id="sample-filter" placeholder="filter samples by text, id or source"></p>']
    for kind, idx in (("Dropped documents, per reason", 0), ("Kept documents nearest each limit", 1)):
        titles = list(dict.fromkeys(s.title for pair in samples for s in pair[idx]))
        if not titles:
            continue
        out.append(f"<h3>{escape(kind)}</h3>")
        for title in titles:
            cols = []
            for i, pair in enumerate(samples):
                found = next((s for s in pair[idx] if s.title == title), None)
                value_col = title.split(" near ")[0] if idx == 1 else None
                body = (
                    "".join(_sample_html(r, value_col) for r in found.rows)
                    if found and found.rows
                    else '<p class="note">none</p>'
                )
                note = escape(found.note) if found else "not in this run"
                who = f'<span class="run-{"ab"[i]}">{escape(names[i])}</span> · ' if n > 1 else ""
                cols.append(f'<div><div class="note">{who}{note}</div>{body}</div>')
            out.append(
                f"<details{' open' if idx == 0 else ''}><summary><b>{escape(title)}</b></summary>"
                f'<div class="cols" style="--n:{n}">{"".join(cols)}</div></details>'
            )
    return "".join(out)
