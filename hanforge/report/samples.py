"""Sample documents for the report: a few per drop reason, and kept ones near each limit.

Each sample list is a deterministic limited scan in shard-file order: the lazy frame of the
small columns is filtered and cut with ``head(k)`` (Polars stops reading once it has ``k``
rows), so the same output folder always gives the same samples. Only then is text read, by id
from the shard files that hold a sample, so a large run never has its whole text column read. Texts are cut to an excerpt here; the page escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hanforge.report.aggregate import Aggregates
from hanforge.report.signals import Limit

EXCERPT_CHARS = 400


@dataclass
class SampleSet:
    """Documents shown under one heading."""

    title: str
    note: str
    rows: list[dict]


def _columns(schema: pl.Schema, *extra: str) -> list[str]:
    names = dict.fromkeys(("_file", "id", "source", "url", "drop_step", "drop_reason", "num_chars", *extra))
    return [c for c in names if c in schema or c == "_file"]


def collect_samples(
    agg: Aggregates, *, per_reason: int = 3, per_limit: int = 3
) -> tuple[list[SampleSet], list[SampleSet]]:
    """(samples per drop reason, kept samples nearest each configured limit)."""
    lf = agg.folder.scan_text(with_file=True)
    if lf is None or agg.schema is None:
        return [], []
    schema = agg.schema
    reason_sets, queries = [], []
    for step, reason, num_docs, _ in agg.reasons.iter_rows() if agg.reasons is not None else []:
        reason_sets.append(SampleSet(f"{reason}", f"step {step} · {num_docs:,} documents", []))
        queries.append(lf.filter(pl.col("drop_reason") == reason).head(per_reason).select(_columns(schema)))
    limit_sets = []
    for hist in agg.signals.values():
        width = 2 * (hist.edges[1] - hist.edges[0]) if not hist.signal.log_x else None
        for lim in hist.limits:
            lo, hi = _band(lim, width)
            col = pl.col(lim.column)
            near = lf.filter(pl.col("drop_reason").is_null() & col.is_between(lo, hi))
            limit_sets.append(
                (SampleSet(f"{lim.column} near {lim.label}", f"kept, {lim.column} in [{lo:.4g}, {hi:.4g}]", []), lim)
            )
            queries.append(near.head(per_limit * 4).select(_columns(schema, lim.column)))
    results = pl.collect_all(queries) if queries else []
    keys = [(f, i) for df in results for f, i in zip(df["_file"].to_list(), df["id"].to_list())]
    texts = agg.folder.text_excerpts(keys, chars=EXCERPT_CHARS)
    results = [
        df.with_columns(
            excerpt=pl.Series(
                [texts.get(k, "") for k in zip(df["_file"].to_list(), df["id"].to_list())], dtype=pl.String
            )
        )
        for df in results
    ]
    for sample_set, df in zip(reason_sets, results[: len(reason_sets)]):
        sample_set.rows = df.to_dicts()
    for (sample_set, lim), df in zip(limit_sets, results[len(reason_sets) :]):
        df = df.sort((pl.col(lim.column) - lim.value).abs(), "id").head(per_limit)
        sample_set.rows = df.to_dicts()
    return reason_sets, [s for s, _ in limit_sets]


def _band(lim: Limit, width: float | None) -> tuple[float, float]:
    """The kept side of ``lim``: two histogram bins wide (or ±25% for log-binned counts)."""
    if width is None:
        width = abs(lim.value) * 0.25 or 1.0
    return (lim.value, lim.value + width) if lim.rule.side == "min" else (lim.value - width, lim.value)
