"""Where dedup keeps its state, and how documents and partitions are addressed.

A document is addressed by a 64-bit key ``shard << 32 | row`` (``shard`` = position of its
input shard in the sorted input list; shards of a reference index start at ``REF_BASE``).
Keys are what every stage exchanges; ids and texts stay in the shards.

State folder (``<output>/state``), which doubles as the index for later runs:

- ``docs/SSSSS.sig.npy`` (rows x num_perm uint32 signatures), ``docs/SSSSS.exact.npy`` (uint64
  normalized-text hashes), ``docs/SSSSS.score.npy`` (float64 keep scores),
  ``docs/SSSSS.ids.arrow`` (document ids, memory-mappable Arrow IPC);
- ``buckets/pPPPP/SSSSS.npy``: ``[band_hash, key]`` rows of shard S in bucket partition P
  (partition = band x hash range);
- ``exact/pQQQQ/SSSSS.npy``: ``[exact_hash, key]`` rows of shard S in exact partition Q.

Work folder (``<output>/work``): candidate edges and connected-component rounds
(``cc/lsRRR/kKKKK/*.npy``, ``cc/ssRRR/kKKKK/*.npy``), cluster assignments
(``assign/sSSSSS/kKKKK.npy``) and per-task stats (``*.json``). Every file is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hanforge.atomic import atomic_path, atomic_write_json
from hanforge.errors import InputError

REF_BASE = 1 << 30
ROW_MASK = np.uint64(0xFFFFFFFF)

#: dtype of one cluster assignment (written by the elect stage, read by the removal stage).
ASSIGN_DTYPE = np.dtype([("row", "<u4"), ("kept", "<u8"), ("size", "<u4"), ("reason", "u1")])
REASONS = {0: None, 1: "exact_duplicate", 2: "near_duplicate"}


def make_keys(shard: int, rows: np.ndarray) -> np.ndarray:
    """Keys of ``rows`` of input shard ``shard``."""
    return (np.uint64(shard) << np.uint64(32)) | rows.astype(np.uint64)


def key_shard(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(32)).astype(np.int64)


def key_row(keys: np.ndarray) -> np.ndarray:
    return (keys & ROW_MASK).astype(np.int64)


def node_partition(keys: np.ndarray, parts: int) -> np.ndarray:
    """Graph partition of node keys (a well-mixed hash of the key, modulo ``parts``)."""
    x = keys.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(33))) * np.uint64(0xFF51AFD7ED558CCD)
        x = (x ^ (x >> np.uint64(33))) * np.uint64(0xC4CEB9FE1A85EC53)
        x = x ^ (x >> np.uint64(33))
    return (x % np.uint64(parts)).astype(np.int64)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` under a temporary name, renamed when complete."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def load_pairs(files: list[Path]) -> np.ndarray:
    """Concatenate ``(m, 2)`` uint64 arrays from ``files`` (missing files are an error)."""
    arrays = [np.load(f, allow_pickle=False) for f in files]
    arrays = [a for a in arrays if len(a)]
    return np.concatenate(arrays) if arrays else np.empty((0, 2), dtype=np.uint64)


def discover_shards(inputs: list[str | Path]) -> list[Path]:
    """Input Parquet shards: each input is a file, a folder with ``shards/``, or a folder of them."""
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_file():
            if path.suffix != ".parquet":
                raise InputError(f"{path}: not a Parquet text shard (expected a .parquet file)")
            found = [path]
        elif (path / "shards").is_dir():
            found = sorted((path / "shards").glob("*.parquet"))
        elif path.is_dir():
            found = sorted(path.glob("*.parquet"))
        else:
            raise InputError(f"{path}: input not found")
        if not found:
            raise InputError(f"{path}: no .parquet shards found (looked in {path}/shards and {path})")
        out.extend(p for p in found if ".tmp-" not in p.name)
    if len(set(out)) != len(out):
        raise InputError("the same shard is given twice in the inputs")
    if len(out) >= REF_BASE:
        raise InputError(f"too many input shards ({len(out)}); merge them into larger shards")
    return out


class StateLayout:
    """Paths of one dedup run's state and work folders (see the module docstring)."""

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        self.state = self.output / "state"
        self.work = self.output / "work"
        self.logs = self.output / "logs"

    def doc_file(self, shard: int, kind: str) -> Path:
        suffix = "arrow" if kind == "ids" else "npy"
        return self.state / "docs" / f"{shard:05d}.{kind}.{suffix}"

    def bucket_file(self, partition: int, shard: int) -> Path:
        return self.state / "buckets" / f"p{partition:04d}" / f"{shard:05d}.npy"

    def exact_file(self, partition: int, shard: int) -> Path:
        return self.state / "exact" / f"p{partition:04d}" / f"{shard:05d}.npy"

    def cc_dir(self, op: str, round_: int, part: int) -> Path:
        return self.work / "cc" / f"{op}{round_:03d}" / f"k{part:04d}"

    def assign_file(self, shard: int, part: int) -> Path:
        return self.work / "assign" / f"s{shard:05d}" / f"k{part:04d}.npy"

    def task_stats(self, stage: str, rank: int) -> Path:
        return self.work / "stats" / stage / f"{rank:05d}.json"

    def write_task_stats(self, stage: str, rank: int, stats: dict) -> None:
        atomic_write_json(self.task_stats(stage, rank), stats)

    def read_task_stats(self, stage: str) -> list[dict]:
        folder = self.work / "stats" / stage
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
