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
import pyarrow as pa

from hanforge.atomic import atomic_path, atomic_write_json
from hanforge.errors import InputError
from hanforge.shards.text_reader import find_text_shards

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
    """Input Parquet shards in input order (:func:`~hanforge.shards.text_reader.find_text_shards`)."""
    out = [path for _, path in find_text_shards(inputs)]
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


def save_ids(path: Path, ids: pa.ChunkedArray) -> None:
    """Write one shard's document ids as memory-mappable Arrow IPC, atomically."""
    table = pa.table({"id": ids.cast(pa.string())})
    with atomic_path(path) as tmp, pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def read_ids(path: Path) -> pa.Array:
    """Memory-mapped ids of one shard."""
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all().column("id").combine_chunks()


class DocFiles:
    """The doc files of this run's shards and of a reference index, addressed by key.

    The one place that knows where a key's shard lives: shards from ``REF_BASE`` on belong to
    the reference index (an earlier ``hanforge dedup`` output), the others to this run.
    ``.npy`` files are memory-mapped once and cached.
    """

    def __init__(self, output: str | Path | None, *, reference: str | Path | None) -> None:
        self.layout = StateLayout(output) if output is not None else None
        self.reference = StateLayout(reference) if reference else None
        self._cache: dict[tuple[int, str], np.ndarray] = {}

    def path(self, shard: int, kind: str) -> Path:
        """The ``kind`` doc file (``sig``, ``exact``, ``score``, ``ids``) of key shard ``shard``."""
        if shard >= REF_BASE:
            return self.reference.doc_file(shard - REF_BASE, kind)
        return self.layout.doc_file(shard, kind)

    def array(self, shard: int, kind: str) -> np.ndarray:
        if (shard, kind) not in self._cache:
            self._cache[(shard, kind)] = np.load(self.path(shard, kind), mmap_mode="r", allow_pickle=False)
        return self._cache[(shard, kind)]

    def rows(self, keys: np.ndarray, kind: str) -> np.ndarray:
        """The ``kind`` rows of documents ``keys`` (in that order)."""
        shards, rows = key_shard(keys), key_row(keys)
        first = self.array(int(shards[0]), kind)
        out = np.empty((len(keys), *first.shape[1:]), dtype=first.dtype)
        for shard in np.unique(shards):
            sel = shards == shard
            out[sel] = self.array(int(shard), kind)[rows[sel]]
        return out

    def ids(self, keys: np.ndarray) -> list[str]:
        """Document ids of ``keys`` (looked up in the memory-mapped id files of their shards)."""
        out: list[str | None] = [None] * len(keys)
        shards, rows = key_shard(keys), key_row(keys)
        for s in np.unique(shards):
            sel = np.flatnonzero(shards == s)
            values = read_ids(self.path(int(s), "ids")).take(pa.array(rows[sel])).to_pylist()
            for i, v in zip(sel, values):
                out[i] = v
        return out

    def partition_pairs(self, kind: str, partition: int, *, num_shards: int, num_ref_shards: int) -> np.ndarray:
        """``[hash, key]`` rows of one bucket (``kind="bucket"``) or exact partition, reference included."""
        sources = [(self.layout, 0, num_shards)]
        if self.reference is not None:
            sources.append((self.reference, REF_BASE, num_ref_shards))
        parts = []
        for layout, base, count in sources:
            getter = layout.bucket_file if kind == "bucket" else layout.exact_file
            for s in range(count):
                rows = load_pairs([getter(partition, s)])
                if base and len(rows):
                    rows[:, 1] += np.uint64(base) << np.uint64(32)
                parts.append(rows)
        return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.uint64)
