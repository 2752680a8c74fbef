"""Open any hanforge output folder for the report: what it is, its JSON records and its shards.

``hanforge run`` (local, Ray or Slurm executor: one layout), ``dedup`` and ``mix`` write Parquet
text shards (kept under ``shards/``, dropped under ``excluded/``) next to ``manifest.json`` and,
for run and dedup, ``stats.json``; ``tokenize`` writes ``tokens-*.arrow`` and a manifest. A plain
folder of text shards works too (no manifest: kind ``text-shards``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from hanforge.errors import InputError, ShardError
from hanforge.shards.inspect import find_parquet


@dataclass
class OutputFolder:
    """One output folder: its kind (``manifest.kind``), records and shard files."""

    path: Path
    kind: str
    manifest: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    text_files: list[Path] = field(default_factory=list)
    token_files: list[Path] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.path.name or str(self.path)

    def scan_text(self, *, with_file: bool = False) -> pl.LazyFrame | None:
        """Kept and excluded text shards as one lazy frame (kept = ``drop_reason`` is null).

        ``with_file`` adds the shard path as ``_file`` (to fetch a row's text later).
        """
        if not self.text_files:
            return None
        lf = pl.scan_parquet(self.text_files, include_file_paths="_file" if with_file else None)
        if "drop_reason" not in lf.collect_schema():
            lf = lf.with_columns(drop_reason=pl.lit(None, pl.String), drop_step=pl.lit(None, pl.String))
        return lf

    def scan_tokens(self) -> pl.LazyFrame | None:
        """Token-shard rows (``doc_lens``, ``num_pad``, ``continues``; ids are not read)."""
        if not self.token_files:
            return None
        return pl.scan_ipc(self.token_files).select("doc_lens", "num_pad", "continues")

    def text_excerpts(self, rows: list[tuple[str, str]], *, chars: int) -> dict[tuple[str, str], str]:
        """First ``chars`` characters of the text of the given ``(file, id)`` rows.

        One small query per file holding a sample: Polars reads its ids and the text of only
        the matching rows.
        """
        by_file: dict[str, set[str]] = {}
        for file, doc_id in rows:
            by_file.setdefault(file, set()).add(doc_id)
        out: dict[tuple[str, str], str] = {}
        for file, ids in sorted(by_file.items()):
            found = (
                pl.scan_parquet(file)
                .filter(pl.col("id").is_in(sorted(ids)))
                .select("id", pl.col("text").str.slice(0, chars))
                .collect()
            )
            for doc_id, text in found.iter_rows():
                out.setdefault((file, doc_id), text or "")
        return out

    def step_configs(self) -> dict[str, dict[str, Any]]:
        """Config of each corpus step by its ``type`` (the run's thresholds); empty for others."""
        steps = self.manifest.get("config", {}).get("steps", [])
        return {s["type"]: s for s in steps if isinstance(s, dict) and "type" in s}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}); rerun the command that wrote it") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def open_output(path: str | Path) -> OutputFolder:
    """Inspect ``path`` (an output folder of run/dedup/mix/tokenize, or a folder of text shards)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: no such folder (give an output folder of hanforge run, dedup, mix or tokenize)")
    manifest = _read_json(path / "manifest.json")
    stats = _read_json(path / "stats.json")
    token_files = sorted(p for p in path.glob("tokens-*.arrow") if ".tmp" not in p.name)
    text_files: list[Path] = []
    if not token_files:
        try:
            groups = find_parquet(path)
        except ShardError:
            groups = {}
        # only this folder's own shards/ and excluded/ (or its own files): dedup keeps temporary
        # Parquet under work/, and a parent folder of several outputs must not mix them
        text_files = [
            p for kind in ("shards", "excluded") for p in groups.get(kind, []) if path in (p.parent, p.parent.parent)
        ]
        text_files += [p for p in groups.get("other", []) if p.parent == path]
    if not text_files and not token_files:
        raise InputError(f"{path}: no text shards (*.parquet) or token shards (tokens-*.arrow) found")
    kind = manifest.get("kind") or ("token-shards" if token_files else "text-shards")
    return OutputFolder(
        path=path, kind=kind, manifest=manifest, stats=stats, text_files=text_files, token_files=token_files
    )
