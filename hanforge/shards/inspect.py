"""``hanforge inspect``: a Polars summary of a text-shard folder (or a run's output folder) or of
a token-shard folder.

Text shards: rows, schema, kept/excluded split, the drop-reason table, and Hangul-ratio and
length histograms, read lazily with ``polars.scan_parquet`` so it works on large folders. Token
shards (``hanforge tokenize`` output): the manifest's counts and the Arrow schema.
"""

from __future__ import annotations

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


def histogram(values: pl.Series, *, edges: list[float], width: int = 40) -> list[str]:
    """Text histogram lines of ``values`` over ``edges`` (last bin open-ended)."""
    values = values.drop_nulls()
    counts = []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < len(edges) else None
        mask = values >= lo if hi is None else (values >= lo) & (values < hi)
        counts.append((f"{lo:g}–{hi:g}" if hi is not None else f"≥{lo:g}", int(mask.sum())))
    peak = max((c for _, c in counts), default=0) or 1
    return [f"  {label:>12} {count:>9,} {_BAR * round(width * count / peak)}" for label, count in counts]


def inspect_token_shards(path: str | Path) -> str:
    """The summary of a token-shard folder: counts from its manifest, schema of its first shard."""
    from hanforge.shards.token_format import read_manifest

    m = read_manifest(path)
    lines = [f"{path}: token shards, {len(m['shards'])} file(s)",
             f"documents {m['num_docs']:,} → rows {m['num_rows']:,} × seq_len {m['seq_len']}; tokens "
             f"{m['num_tokens']:,} ({m['num_pad_tokens']:,} padding, packing efficiency {m['packing_efficiency']:.2%})"]
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
    """The multi-line summary ``hanforge inspect`` prints (text or token shards)."""
    if is_token_shard_folder(path):
        return inspect_token_shards(path)
    groups = find_parquet(path)
    files = [p for ps in groups.values() for p in ps]
    lf = pl.scan_parquet(files)
    schema = lf.collect_schema()
    lines = [f"{path}: {len(files)} shard file(s)"]
    cols = ["num_chars"] + [c for c in ("hangul_ratio", "drop_reason", "source", "lang") if c in schema]
    df = lf.select([c for c in cols if c in schema]).collect()
    if "drop_reason" in df.columns:
        num_excluded = int(df["drop_reason"].is_not_null().sum())
        lines.append(f"rows: {df.height:,} (kept {df.height - num_excluded:,}, excluded {num_excluded:,})")
    else:
        lines.append(f"rows: {df.height:,}")
    lines.append("schema:")
    lines += [f"  {name:<22} {dtype}" for name, dtype in schema.items()]
    if "source" in df.columns:
        lines.append("sources:")
        for row in df.group_by("source").len().sort(["len", "source"], descending=[True, False]).iter_rows():
            lines.append(f"  {row[0]:<30} {row[1]:>9,}")
    if "drop_reason" in df.columns:
        reasons = df.filter(pl.col("drop_reason").is_not_null()).group_by("drop_reason").len()
        lines.append("drop reasons:" if reasons.height else "drop reasons: none")
        for row in reasons.sort(["len", "drop_reason"], descending=[True, False]).iter_rows():
            lines.append(f"  {row[0]:<40} {row[1]:>9,}")
    live = df.filter(pl.col("drop_reason").is_null()) if "drop_reason" in df.columns else df
    if "hangul_ratio" in live.columns and live["hangul_ratio"].drop_nulls().len():
        lines.append("hangul_ratio (kept rows):")
        lines += histogram(live["hangul_ratio"], edges=[0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    if live.height:
        lines.append("num_chars (kept rows):")
        lines += histogram(live["num_chars"], edges=[0, 100, 200, 500, 1000, 2000, 5000, 10000, 50000])
        q = live["num_chars"]
        lines.append(f"  min {q.min():,}  median {int(q.median()):,}  mean {q.mean():,.0f}  max {q.max():,}")
    return "\n".join(lines)
