"""``hanforge inspect``: a Polars summary of a text-shard folder (or a run's output folder) or of
a token-shard folder.

Text shards: rows, schema, kept/excluded split, the drop-reason table, and Hangul-ratio and
length histograms, read lazily with ``polars.scan_parquet`` so it works on large folders;
``hanforge report`` reuses the same aggregations (:func:`count_by`, :func:`bin_index`,
:func:`histogram_counts`). Token shards (``hanforge tokenize`` output): the manifest's counts and
the Arrow schema.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from hanforge.errors import ShardError

_BAR = "█"


def find_parquet(path: str | Path) -> dict[str, list[Path]]:
    """Parquet files under ``path`` grouped as ``shards``/``excluded``/``other``."""
    path = Path(path)
    if path.is_file():
        return {"other": [path]}
    if not path.is_dir():
        raise ShardError(f"{path}: no such file or folder")
    groups: dict[str, list[Path]] = {}
    for p in sorted(path.rglob("*.parquet")):
        if ".tmp-" in p.name:
            continue
        kind = p.parent.name if p.parent.name in ("shards", "excluded") else "other"
        groups.setdefault(kind, []).append(p)
    if not groups:
        raise ShardError(f"{path}: no .parquet shards found")
    return groups


def count_by(lf: pl.LazyFrame, *columns: str) -> pl.LazyFrame:
    """Documents (``num_docs``) and characters (``num_chars``) per value of ``columns``, largest first."""
    return (
        lf.group_by(*columns)
        .agg(num_docs=pl.len(), num_chars=pl.col("num_chars").sum())
        .sort(["num_docs", *columns], descending=[True] + [False] * len(columns), nulls_last=True)
    )


def bin_index(expr: pl.Expr, edges: list[float], *, log: bool = False) -> pl.Expr:
    """0-based bin of ``expr`` over ``edges``: bin i is ``[edges[i], edges[i+1])``.

    Values below the first edge fall in the first bin, values at or above the last edge in the
    last bin; nulls and NaNs stay null. Edges evenly spaced (in ``log10(x + 1)`` when ``log``)
    are binned by arithmetic, other edges by a binary search; both are vectorized.
    """
    x = expr.cast(pl.Float64)
    t = (x + 1).log10() if log else x
    points = [math.log10(e + 1) if log else float(e) for e in edges]
    steps = [b - a for a, b in zip(points, points[1:])]
    span = points[-1] - points[0]
    if len(steps) > 1 and math.isfinite(span) and max(steps) - min(steps) <= 1e-9 * abs(span):
        index = ((t - points[0]) / steps[0]).floor()
    elif len(steps) > 1:
        index = pl.lit(pl.Series(points[1:-1], dtype=pl.Float64)).search_sorted(t, side="right")
    else:
        index = pl.lit(0)
    return pl.when(x.is_not_null() & x.is_not_nan()).then(index.clip(0, len(steps) - 1).cast(pl.Int32))


def histogram_counts(
    lf: pl.LazyFrame, column: str, *, edges: list[float], by: list[str] | None = None, log: bool = False
) -> pl.LazyFrame:
    """Rows per bin of ``column`` over ``edges`` (see :func:`bin_index`), computed by Polars.

    Nulls are left out. Columns: ``by``..., ``bin`` (0-based), ``len``.
    """
    by = by or []
    return (
        lf.select(*by, bin=bin_index(pl.col(column), edges, log=log))
        .drop_nulls("bin")
        .group_by(*by, "bin")
        .len()
        .sort(*by, "bin")
    )


def histogram(counts: list[int], *, edges: list[float], width: int = 40) -> list[str]:
    """Text histogram lines of per-bin ``counts`` over ``edges`` (the last bin is open-ended)."""
    labels = [
        f"{lo:g}–{edges[i + 1]:g}" if i + 1 < len(counts) else f"≥{lo:g}" for i, lo in enumerate(edges[: len(counts)])
    ]
    peak = max(counts, default=0) or 1
    return [f"  {label:>12} {count:>9,} {_BAR * round(width * count / peak)}" for label, count in zip(labels, counts)]


def _bin_counts(lf: pl.LazyFrame, column: str, edges: list[float]) -> list[int]:
    """Per-bin counts over ``edges`` + an open-ended last bin."""
    counts = [0] * len(edges)
    for b, n in histogram_counts(lf, column, edges=[*edges, float("inf")]).collect().iter_rows():
        counts[b] = n
    return counts


def inspect_token_shards(path: str | Path) -> str:
    """The summary of a token-shard folder: counts from its manifest, schema of its first shard."""
    from hanforge.shards.token_format import read_manifest

    m = read_manifest(path)
    lines = [
        f"{path}: token shards, {len(m['shards'])} file(s)",
        f"documents {m['num_docs']:,} → rows {m['num_rows']:,} × seq_len {m['seq_len']}; tokens "
        f"{m['num_tokens']:,} ({m['num_pad_tokens']:,} padding, packing efficiency {m['packing_efficiency']:.2%})",
    ]
    if m.get("tokenizer"):
        lines.append(f"tokenizer: {m['tokenizer'].get('name')} (vocab {m.get('vocab_size', '?')})")
    for source, stats in m.get("sources", {}).items():
        lines.append(f"  {source}: {stats['num_docs']:,} docs, {stats['num_tokens']:,} tokens")
    first = Path(path) / (m["shards"][0] if isinstance(m["shards"][0], str) else m["shards"][0]["file"])
    lines.append("schema:")
    lines += [f"  {name}: {dtype}" for name, dtype in pl.read_ipc_schema(first).items()]
    return "\n".join(lines)


def is_token_shard_folder(path: str | Path) -> bool:
    """True for a folder written by ``hanforge tokenize`` (token shards and their manifest)."""
    path = Path(path)
    return path.is_dir() and any(path.glob("tokens-*.arrow"))


def inspect_shards(path: str | Path) -> str:
    """The multi-line summary ``hanforge inspect`` prints (text shards aggregated lazily by
    Polars, or token shards)."""
    if is_token_shard_folder(path):
        return inspect_token_shards(path)
    groups = find_parquet(path)
    files = [p for ps in groups.values() for p in ps]
    lf = pl.scan_parquet(files)
    schema = lf.collect_schema()
    lines = [f"{path}: {len(files)} shard file(s)"]
    has_reason = "drop_reason" in schema
    kept = pl.col("drop_reason").is_null() if has_reason else pl.lit(True)
    num_rows, num_kept = lf.select(pl.len(), kept.sum()).collect().row(0)
    if has_reason:
        lines.append(f"rows: {num_rows:,} (kept {num_kept:,}, excluded {num_rows - num_kept:,})")
    else:
        lines.append(f"rows: {num_rows:,}")
    lines.append("schema:")
    lines += [f"  {name:<22} {dtype}" for name, dtype in schema.items()]
    if "source" in schema:
        lines.append("sources:")
        for row in count_by(lf, "source").collect().iter_rows():
            lines.append(f"  {row[0]:<30} {row[1]:>9,}")
    if has_reason:
        reasons = count_by(lf.filter(~kept), "drop_reason").collect()
        lines.append("drop reasons:" if reasons.height else "drop reasons: none")
        for row in reasons.iter_rows():
            lines.append(f"  {row[0]:<40} {row[1]:>9,}")
    live = lf.filter(kept)
    if "hangul_ratio" in schema and live.select(pl.col("hangul_ratio").is_not_null().any()).collect().item():
        lines.append("hangul_ratio (kept rows):")
        edges = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        lines += histogram(_bin_counts(live, "hangul_ratio", edges), edges=edges)
    if num_kept:
        lines.append("num_chars (kept rows):")
        edges = [0, 100, 200, 500, 1000, 2000, 5000, 10000, 50000]
        lines += histogram(_bin_counts(live, "num_chars", edges), edges=edges)
        q = (
            live.select(
                lo=pl.col("num_chars").min(),
                med=pl.col("num_chars").median(),
                mean=pl.col("num_chars").mean(),
                hi=pl.col("num_chars").max(),
            )
            .collect()
            .row(0, named=True)
        )
        lines.append(f"  min {q['lo']:,}  median {int(q['med']):,}  mean {q['mean']:,.0f}  max {q['hi']:,}")
    return "\n".join(lines)
