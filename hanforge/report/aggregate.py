"""Everything the report shows about one output folder, aggregated by Polars over lazy scans.

No document is visited in Python: counts, sums and histograms are ``group_by``/``cut`` queries
(:mod:`hanforge.shards.inspect` holds the ones ``hanforge inspect`` shares) run together with
``pl.collect_all``; only the few sample documents are materialized, by limited scans
(:mod:`hanforge.report.samples`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from hanforge.report.output_folder import OutputFolder
from hanforge.report.signals import SIGNALS, Limit, Signal, configured_limits
from hanforge.shards.inspect import bin_index, count_by, histogram_counts

NUM_BINS = 40
# steps in pipeline order, for outputs without stats.json (a plain shard folder)
_STEP_ORDER = (
    "ingest",
    "decode",
    "extract",
    "normalize",
    "boilerplate",
    "hangul_ratio",
    "length",
    "repetition",
    "quality",
    "spam",
    "url_blocklist",
    "pii",
    "dedup",
)
CLASSES = ("kept", "dropped by this rule", "dropped by another rule")


@dataclass
class FunnelStep:
    """Documents and characters entering a step and dropped by it."""

    step: str
    docs_in: int
    docs_dropped: int
    chars_in: int
    chars_dropped: int

    @property
    def docs_out(self) -> int:
        return self.docs_in - self.docs_dropped

    @property
    def chars_out(self) -> int:
        return self.chars_in - self.chars_dropped


@dataclass
class SignalHistogram:
    """Counts per bin of one signal column, split into :data:`CLASSES`."""

    signal: Signal
    edges: list[float]
    counts: dict[str, list[int]]
    limits: list[Limit]


@dataclass
class Aggregates:
    """The numbers of one output folder."""

    folder: OutputFolder
    num_docs: int = 0
    num_kept: int = 0
    chars_kept: int = 0
    chars_excluded: int = 0
    reasons: pl.DataFrame | None = None  # drop_step, drop_reason, num_docs, num_chars
    funnel: list[FunnelStep] = field(default_factory=list)
    sources: pl.DataFrame | None = None  # source, kept, num_docs, num_chars
    pii_docs: dict[str, int] = field(default_factory=dict)
    pii_spans: dict[str, int] = field(default_factory=dict)
    cluster_sizes: pl.DataFrame | None = None  # dup_cluster_size, num_clusters
    largest_clusters: pl.DataFrame | None = None
    signals: dict[str, SignalHistogram] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    doc_len_hist: tuple[list[float], list[int]] | None = None
    schema: pl.Schema | None = None


QUANTILE_SAMPLE = 200_000


def signal_ranges(lf: pl.LazyFrame, schema: pl.Schema) -> dict[str, tuple[float, float]]:
    """(min, 99.5th percentile) of each signal column that has values.

    The percentile (it only sets the histogram's range) is taken over every k-th row so that at
    most ``QUANTILE_SAMPLE`` values are sorted per column; deterministic, and exact on small runs.
    """
    cols = [s.column for s in SIGNALS if s.column in schema]
    if not cols:
        return {}
    step = max(1, lf.select(pl.len()).collect().item() // QUANTILE_SAMPLE)
    row = (
        lf.select(
            [
                e
                for c in cols
                for e in (
                    pl.col(c).min().alias(f"{c}:lo"),
                    pl.col(c).gather_every(step).quantile(0.995).alias(f"{c}:hi"),
                )
            ]
        )
        .collect()
        .row(0, named=True)
    )
    return {c: (float(row[f"{c}:lo"]), float(row[f"{c}:hi"])) for c in cols if row[f"{c}:lo"] is not None}


def bin_edges(signal: Signal, lo: float, hi: float, limits: list[Limit]) -> list[float]:
    """``NUM_BINS`` + 1 edges covering the data and the limits near it (log-spaced for counts)."""
    near = [lim.value for lim in limits if lim.value <= max(hi, 1e-9) * 3]
    lo, hi = min([lo, *near]), max([hi, *near])
    lo = 0.0 if lo >= 0 and (not signal.log_x or lo < 10) else lo
    hi = hi * 1.03 if hi > lo else lo + 1
    if signal.log_x:
        a, b = math.log10(lo + 1), math.log10(hi + 1)
        return [10 ** (a + (b - a) * i / NUM_BINS) - 1 for i in range(NUM_BINS + 1)]
    return [lo + (hi - lo) * i / NUM_BINS for i in range(NUM_BINS + 1)]


def shared_ranges(folders: list[tuple[pl.LazyFrame, pl.Schema]]) -> dict[str, tuple[float, float]]:
    """Ranges over several folders, so compared histograms share their bins."""
    out: dict[str, tuple[float, float]] = {}
    for lf, schema in folders:
        for c, (lo, hi) in signal_ranges(lf, schema).items():
            a, b = out.get(c, (lo, hi))
            out[c] = (min(a, lo), max(b, hi))
    return out


def aggregate(folder: OutputFolder, *, ranges: dict[str, tuple[float, float]] | None = None) -> Aggregates:
    """All numbers of ``folder``; ``ranges`` (from :func:`shared_ranges`) fixes histogram ranges."""
    agg = Aggregates(folder=folder)
    lf = folder.scan_text(with_file=True)
    if lf is not None:
        _text_aggregates(agg, lf, ranges)
    tl = folder.scan_tokens()
    if tl is not None:
        _token_aggregates(agg, tl)
    # stats.json "pii" holds replacements per type plus the docs_with_pii total
    agg.pii_spans = {k: int(v) for k, v in folder.stats.get("pii", {}).items() if k != "docs_with_pii"}
    return agg


def _text_aggregates(agg: Aggregates, lf: pl.LazyFrame, ranges: dict[str, tuple[float, float]] | None) -> None:
    schema = lf.collect_schema()
    agg.schema = schema
    kept = pl.col("drop_reason").is_null()
    queries = {
        "totals": lf.select(
            num_docs=pl.len(),
            num_kept=kept.sum(),
            chars_kept=pl.col("num_chars").filter(kept).sum(),
            chars_excluded=pl.col("num_chars").filter(~kept).sum(),
        ),
        "reasons": count_by(lf.filter(~kept), "drop_step", "drop_reason"),
    }
    if "source" in schema:
        queries["sources"] = count_by(lf.with_columns(kept=kept), "source", "kept")
    if "pii_types" in schema:
        queries["pii"] = (
            lf.filter(kept)
            .select(pl.col("pii_types").explode().alias("type"))
            .drop_nulls()
            .group_by("type")
            .len()
            .sort("type")
        )
    if "dup_cluster_size" in schema:
        clusters = lf.filter(kept & pl.col("dup_cluster_size").is_not_null())
        queries["clusters"] = clusters.group_by("dup_cluster_size").agg(num_clusters=pl.len()).sort("dup_cluster_size")
        queries["largest"] = (
            clusters.filter(pl.col("dup_cluster_size") > 1)
            .select("_file", "id", "source", "url", "dup_cluster_size", "num_chars")
            .top_k(8, by=["dup_cluster_size", "id"], reverse=[False, True])
        )
    names = list(queries)
    results = dict(zip(names, pl.collect_all([queries[n] for n in names])))
    tot = results["totals"].row(0, named=True)
    agg.num_docs, agg.num_kept = int(tot["num_docs"]), int(tot["num_kept"] or 0)
    agg.chars_kept, agg.chars_excluded = int(tot["chars_kept"] or 0), int(tot["chars_excluded"] or 0)
    agg.reasons = results["reasons"]
    agg.sources = results.get("sources")
    if "pii" in results:
        agg.pii_docs = dict(results["pii"].iter_rows())
    if "clusters" in results and results["clusters"].height:
        agg.cluster_sizes = results["clusters"]
        largest = results["largest"]
        keys = list(zip(largest["_file"].to_list(), largest["id"].to_list()))
        texts = agg.folder.text_excerpts(keys, chars=300)
        agg.largest_clusters = largest.with_columns(
            excerpt=pl.Series([texts.get(k, "") for k in keys], dtype=pl.String)
        )
    agg.funnel = _funnel(agg)
    _signal_histograms(agg, lf, schema, ranges)


def _funnel(agg: Aggregates) -> list[FunnelStep]:
    stats_steps = [s["step"] for s in agg.folder.stats.get("steps", []) if s.get("step") != "writer"]
    if not stats_steps and agg.folder.kind == "dedup":
        stats_steps = ["dedup"]
    dropped = {}
    for step, docs, chars in (
        agg.reasons.group_by("drop_step").agg(pl.col("num_docs").sum(), pl.col("num_chars").sum()).iter_rows()
    ):
        dropped[step or "unknown"] = (int(docs), int(chars or 0))
    order = stats_steps or [s for s in _STEP_ORDER if s in dropped]
    order += sorted(s for s in dropped if s not in order)
    docs_in, chars_in = agg.num_docs, agg.chars_kept + agg.chars_excluded
    out = []
    for step in order:
        d, c = dropped.get(step, (0, 0))
        out.append(FunnelStep(step, docs_in, d, chars_in, c))
        docs_in, chars_in = docs_in - d, chars_in - c
    return out


def _signal_histograms(
    agg: Aggregates, lf: pl.LazyFrame, schema: pl.Schema, ranges: dict[str, tuple[float, float]] | None
) -> None:
    ranges = ranges if ranges is not None else signal_ranges(lf, schema)
    steps = agg.folder.step_configs()
    plans = []
    for signal in SIGNALS:
        if signal.column not in ranges or signal.column not in schema:
            continue
        limits = configured_limits(signal, steps)
        plans.append((signal, bin_edges(signal, *ranges[signal.column], limits), limits))
    if not plans:
        return
    reasons = {s.column: [r.reason for r in s.rules] for s, _, _ in plans}
    # one scan: per signal, one small integer per row = class * NUM_BINS + bin; the histograms are
    # then value counts of those columns
    cls = {
        s.column: pl.when(pl.col("drop_reason").is_null())
        .then(0)
        .when(pl.col("drop_reason").is_in(reasons[s.column]))
        .then(1)
        .otherwise(2)
        for s, _, _ in plans
    }
    keys = lf.select(
        *[
            (cls[s.column] * NUM_BINS + bin_index(pl.col(s.column), edges, log=s.log_x)).cast(pl.Int16).alias(s.column)
            for s, edges, _ in plans
        ]
    ).collect()
    for signal, edges, limits in plans:
        counts = {name: [0] * NUM_BINS for name in CLASSES}
        for key, n in keys.get_column(signal.column).drop_nulls().value_counts().iter_rows():
            counts[CLASSES[key // NUM_BINS]][key % NUM_BINS] = int(n)
        agg.signals[signal.column] = SignalHistogram(signal, edges, counts, limits)


def _token_aggregates(agg: Aggregates, tl: pl.LazyFrame) -> None:
    row = (
        tl.select(
            num_rows=pl.len(),
            num_pad_tokens=pl.col("num_pad").sum(),
            num_segments=pl.col("doc_lens").list.len().sum(),
            num_continued=pl.col("continues").sum(),
            max_seg=pl.col("doc_lens").list.max().max(),
        )
        .collect()
        .row(0, named=True)
    )
    seq_len = int(agg.folder.manifest.get("seq_len") or 0)
    agg.tokens = {k: int(v or 0) for k, v in row.items()}
    agg.tokens["seq_len"] = seq_len
    slots = row["num_rows"] * seq_len
    agg.tokens["packing_efficiency"] = 1 - row["num_pad_tokens"] / slots if slots else None
    hi = max(int(row["max_seg"] or 1), 2)
    edges = [10 ** (math.log10(hi + 1) * i / NUM_BINS) - 1 for i in range(NUM_BINS + 1)]
    counts = [0] * NUM_BINS
    for b, n in (
        histogram_counts(tl.select(pl.col("doc_lens").explode().alias("len")), "len", edges=edges, log=True)
        .collect()
        .iter_rows()
    ):
        counts[b] = int(n)
    agg.doc_len_hist = (edges, counts)
