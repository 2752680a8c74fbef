"""The sharded, streaming stages before the graph: signatures, then candidate pairs.

:class:`SignatureStage` (one task per input shard) normalizes each live document, hashes its
normalized text (exact key) and computes its MinHash signature and band hashes, then writes the
shard's doc files and one bucket file per bucket partition (see :mod:`.layout`). Memory per
task: one input shard's text plus ``rows x (4 x num_perm + 24 + 16 x bands)`` bytes.

:class:`CandidateStage` (one task per bucket partition, then one per exact partition) reads only
its partition's files, sorts ``[hash, key]`` rows, and turns every bucket of two or more
documents into edges: all pairs for small buckets, a star around the first document for large
ones. With ``verify`` a near-duplicate edge is kept only if the signature-estimated Jaccard of
its two documents reaches the threshold (signatures are read through memory maps, touching only
the candidates). Edges are written as directed ``[src, dst]`` rows partitioned by ``src``: the
input of the first connected-components round. Memory per task: the partition's rows
(16 bytes each) plus its edges.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.dedup.layout import DocFiles, StateLayout, make_keys, node_partition, save_ids, save_npy
from hanforge.corpus.dedup.shingles import MinhashSignatures, estimated_jaccard, exact_hash, normalize_for_hashing
from hanforge.errors import InputError

_READ_BATCH = 1024


def keep_scores(table: pa.Table, keep: str, *, normalized_lengths: np.ndarray) -> np.ndarray:
    """Keep-rule scores of a shard's rows (higher wins; ties go to the earliest key).

    "longest" counts characters of the normalized text, so an NFD copy (about 2.4 code points
    per Hangul syllable) does not beat its NFC original.
    """
    if keep == "longest":
        return normalized_lengths.astype(np.float64)
    if keep == "first":
        return np.zeros(table.num_rows, dtype=np.float64)
    column = keep.removeprefix("quality:")
    if column not in table.column_names:
        raise InputError(f"keep = {keep!r}: the input shards have no column {column!r}")
    values = table.column(column).to_pylist()
    try:
        return np.array([-math.inf if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"keep = {keep!r}: column {column!r} is not numeric") from None


class SignatureStage(PipelineStep):
    """Task ``rank`` = input shard ``rank``: exact hashes, signatures, bucket files."""

    type = "hanforge"
    name = "dedup: signatures"

    def __init__(self, shards: list[str], *, output: str, config: DedupConfig) -> None:
        super().__init__()
        self.shards = shards
        self.output = output
        self.config = config

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        layout, cfg = StateLayout(self.output), self.config
        table = self._read_shard(self.shards[rank])
        n = table.num_rows
        live = np.ones(n, dtype=bool)
        if "drop_reason" in table.column_names:
            live = np.array([r is None for r in table.column("drop_reason").to_pylist()], dtype=bool)
        minhash = MinhashSignatures(cfg.scheme)
        sigs, exact, has_shingles, lengths = self._hash_documents(table.column("text"), live=live, minhash=minhash)
        keys = make_keys(rank, np.arange(n))
        save_npy(layout.doc_file(rank, "sig"), sigs)
        save_npy(layout.doc_file(rank, "exact"), exact)
        save_npy(layout.doc_file(rank, "score"), keep_scores(table, cfg.keep, normalized_lengths=lengths))
        save_ids(layout.doc_file(rank, "ids"), table.column("id"))
        if cfg.exact:
            part = (exact % np.uint64(cfg.graph_partitions)).astype(np.int64)
            for q in range(cfg.graph_partitions):
                sel = live & (part == q)
                save_npy(layout.exact_file(q, rank), np.stack([exact[sel], keys[sel]], axis=1))
        if cfg.near:
            sel = live & has_shingles
            bands = minhash.band_hashes(sigs[sel])
            sel_keys = keys[sel]
            for band in range(cfg.bands):
                h = bands[:, band]
                sub = ((h >> np.uint64(33)) % np.uint64(cfg.band_partitions)).astype(np.int64)
                for r in range(cfg.band_partitions):
                    m = sub == r
                    save_npy(
                        layout.bucket_file(band * cfg.band_partitions + r, rank), np.stack([h[m], sel_keys[m]], axis=1)
                    )
        layout.write_task_stats("signatures", rank, {"documents": int(live.sum()), "rows": n})
        return
        yield

    def _read_shard(self, path: str) -> pa.Table:
        """The columns of one input shard the stage needs; InputError when it is no text shard."""
        try:
            names = pq.read_schema(path).names
            wanted = ["id", "text", "drop_reason", self.config.keep.removeprefix("quality:")]
            table = pq.read_table(path, columns=[c for c in dict.fromkeys(wanted) if c in names])
        except Exception as exc:
            raise InputError(f"{path}: cannot read Parquet shard: {exc}") from exc
        for column in ("id", "text"):
            if column not in table.column_names:
                raise InputError(f"{path}: not a text shard (no {column!r} column)")
        return table

    def _hash_documents(self, texts, *, live: np.ndarray, minhash: MinhashSignatures) -> tuple[np.ndarray, ...]:
        """Per row: MinHash signature, exact hash, whether it has shingles, normalized length
        (rows not ``live`` keep their fill values)."""
        cfg, n = self.config, len(live)
        sigs = np.full((n, cfg.scheme.num_perm), 0xFFFFFFFF, dtype=np.uint32)
        exact = np.zeros(n, dtype=np.uint64)
        has_shingles = np.zeros(n, dtype=bool)
        lengths = np.zeros(n, dtype=np.int64)
        for start in range(0, n, _READ_BATCH):
            batch_rows, batch_shingles = [], []
            with self.track_time():
                for offset, text in enumerate(texts.slice(start, _READ_BATCH).to_pylist()):
                    row = start + offset
                    if not live[row]:
                        continue
                    norm = normalize_for_hashing(text or "")
                    exact[row] = exact_hash(norm)
                    lengths[row] = len(norm)
                    if cfg.near:
                        shingles = cfg.scheme.shingles(norm)
                        has_shingles[row] = len(shingles) > 0
                        batch_rows.append(row)
                        batch_shingles.append(shingles)
                if batch_rows:
                    sigs[batch_rows] = minhash.signatures(batch_shingles)
            self.stat_update(
                "documents", value=len(batch_rows) if cfg.near else int(live[start : start + _READ_BATCH].sum())
            )
        return sigs, exact, has_shingles, lengths


class CandidateStage(PipelineStep):
    """Ranks ``< bucket partitions``: LSH buckets → verified edges; the rest: exact groups → edges."""

    type = "hanforge"
    name = "dedup: candidates"

    def __init__(
        self, *, output: str, config: DedupConfig, num_shards: int, reference: str | None, num_ref_shards: int = 0
    ) -> None:
        super().__init__()
        self.output = output
        self.config = config
        self.num_shards = num_shards
        self.reference = reference
        self.num_ref_shards = num_ref_shards

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cfg = self.config
        layout = StateLayout(self.output)
        near_tasks = cfg.num_bucket_partitions if cfg.near else 0
        is_near = rank < near_tasks
        docs = DocFiles(self.output, reference=self.reference)
        kind, partition = ("bucket", rank) if is_near else ("exact", rank - near_tasks)
        rows = docs.partition_pairs(kind, partition, num_shards=self.num_shards, num_ref_shards=self.num_ref_shards)
        stats = {"rows": int(len(rows)), "buckets": 0, "candidate_pairs": 0, "edges": 0}
        src, dst = [], []
        if len(rows):
            order = np.lexsort((rows[:, 1], rows[:, 0]))
            rows = rows[order]
            starts = np.flatnonzero(np.concatenate([[True], rows[1:, 0] != rows[:-1, 0]]))
            ends = np.append(starts[1:], len(rows))
            for a, b in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
                members = np.unique(rows[a:b, 1])
                if len(members) < 2:
                    continue
                stats["buckets"] += 1
                with self.track_time():
                    i, j = self._pairs(members, docs, is_near, stats)
                src.append(members[i])
                dst.append(members[j])
        edges = (
            np.stack([np.concatenate(src), np.concatenate(dst)], axis=1) if src else np.empty((0, 2), dtype=np.uint64)
        )
        edges = np.unique(edges, axis=0) if len(edges) else edges
        stats["edges"] = int(len(edges))
        directed = np.concatenate([edges, edges[:, ::-1]])
        part = node_partition(directed[:, 0], cfg.graph_partitions)
        for k in range(cfg.graph_partitions):
            save_npy(layout.cc_dir("ls", 0, k) / f"c{rank:05d}.npy", directed[part == k])
        layout.write_task_stats("candidates", rank, {"near": is_near, **stats})
        return
        yield

    def _pairs(self, members: np.ndarray, docs: DocFiles, is_near: bool, stats: dict) -> tuple[np.ndarray, np.ndarray]:
        """Index pairs (i < j) into ``members`` that become edges."""
        cfg = self.config
        g = len(members)
        if g <= cfg.max_bucket_pairs:
            i, j = np.triu_indices(g, k=1)
        else:  # a star around the first member bounds the work of huge buckets
            i, j = np.zeros(g - 1, dtype=np.int64), np.arange(1, g)
        stats["candidate_pairs"] += len(i)
        if is_near and cfg.verify:
            sigs = docs.rows(members, "sig")
            similar = estimated_jaccard(sigs[i], sigs[j]) >= cfg.threshold
            i, j = i[similar], j[similar]
        return i, j
