"""Connected components of the duplicate graph without gathering it in one process.

The graph's edges live in ``graph_partitions`` partition folders; each round of the
large-star / small-star algorithm (Kiveris et al., "Connected Components in MapReduce and
Beyond", SoCC 2014) is one task per partition that streams only its own edge files and writes
its output edges into the partition folders of the next operation:

- large-star (edges partitioned by ``src``, both directions present): for each node ``u``
  with neighbourhood ``N(u)``, let ``m = min(N(u) + {u})``; emit ``(v, m)`` for every
  neighbour ``v > u``;
- small-star (edges ``(hi, lo)`` partitioned by ``hi``): for each ``u``, let ``m`` be its
  smallest neighbour; emit ``(v, m)`` for every neighbour ``v != m`` and ``(u, m)``.

Alternating them converges (in O(log^2 n) rounds, a handful in practice) to stars whose
centre is the smallest key of the component. A round that leaves the edge set unchanged ends
the loop; each task reports an order-independent hash of its (deduplicated) input edge set, so
the driver compares rounds by reading tiny JSON files. Memory per task: its partition's edges,
``16 bytes x 2 x edges / graph_partitions`` plus sort temporaries (about 3x that).

:class:`ElectStage` then reads each partition's final stars, picks the kept document of every
component with the keep rule, splits components into verified stars (:func:`greedy_centers`)
and writes one assignment file per (member shard, partition). A removed member is an
``exact_duplicate`` when a better-ranked member of its star has the same normalized text, else
a ``near_duplicate``; either way ``duplicate_of`` names the star's kept document, which is also
its ``dup_cluster_id``, and ``dup_cluster_size`` is the star's size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.dedup.layout import (
    ASSIGN_DTYPE,
    REF_BASE,
    DocFiles,
    StateLayout,
    key_row,
    key_shard,
    load_pairs,
    node_partition,
    save_npy,
)
from hanforge.corpus.dedup.shingles import estimated_jaccard
from hanforge.errors import HanforgeError

MAX_ROUNDS = 64
#: Components larger than this skip the greedy split (they stay one cluster around the best member).
GREEDY_LIMIT = 20_000


def greedy_centers(signatures: np.ndarray, threshold: float) -> np.ndarray:
    """For members in keep order, the index of the member each one is removed in favour of.

    Greedy star clustering: the best unassigned member becomes a kept centre and takes every
    unassigned member whose signature-estimated Jaccard with it reaches ``threshold``. So a
    removed document is always (estimated) similar to the document kept in its place, which a
    plain connected component does not guarantee (A~B and B~C but A and C far apart).
    """
    g = len(signatures)
    center = np.full(g, -1, dtype=np.int64)
    for i in range(g):
        if center[i] >= 0:
            continue
        center[i] = i
        rest = np.flatnonzero(center[i + 1 :] < 0) + i + 1
        if len(rest):
            similar = estimated_jaccard(signatures[rest], signatures[i]) >= threshold
            center[rest[similar]] = i
    return center


def unique_rows(edges: np.ndarray) -> np.ndarray:
    """Distinct rows of an (m, 2) uint64 array, sorted by (col 0, col 1)."""
    if len(edges) == 0:
        return edges.reshape(0, 2)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges = edges[order]
    keep = np.ones(len(edges), dtype=bool)
    keep[1:] = (edges[1:, 0] != edges[:-1, 0]) | (edges[1:, 1] != edges[:-1, 1])
    return edges[keep]


def edge_set_hash(hi: np.ndarray, lo: np.ndarray) -> int:
    """Order-independent 64-bit hash of a set of undirected edges ``(hi, lo)``."""
    with np.errstate(over="ignore"):
        x = hi * np.uint64(0x9E3779B97F4A7C15) + lo
        x = (x ^ (x >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(29))
        return int(x.sum(dtype=np.uint64))


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))


class _RoundStage(PipelineStep):
    type = "hanforge"

    def __init__(self, *, output: str, parts: int, round_: int) -> None:
        super().__init__()
        self.output = output
        self.parts = parts
        self.round_ = round_

    def _input(self, op: str, rank: int) -> np.ndarray:
        folder = StateLayout(self.output).cc_dir(op, self.round_, rank)
        return unique_rows(load_pairs(sorted(folder.glob("*.npy"))))

    def _write(self, op: str, round_: int, rank: int, edges: np.ndarray, by: np.ndarray) -> None:
        layout = StateLayout(self.output)
        part = node_partition(by, self.parts)
        for k in range(self.parts):
            save_npy(layout.cc_dir(op, round_, k) / f"from{rank:05d}.npy", edges[part == k])


class LargeStarStage(_RoundStage):
    """One large-star pass over partition ``rank`` of round ``round_``."""

    name = "dedup: components (large-star)"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        edges = self._input("ls", rank)  # directed [src, dst], sorted by src
        src, dst = edges[:, 0], edges[:, 1]
        upper = src > dst
        stats = {"edges": int(upper.sum()), "hash": edge_set_hash(src[upper], dst[upper])}
        out = np.empty((0, 2), dtype=np.uint64)
        if len(edges):
            with self.track_time():
                starts = _group_starts(src)
                mins = np.minimum(np.minimum.reduceat(dst, starts), src[starts])
                m = np.repeat(mins, np.diff(np.append(starts, len(src))))
                emit = dst > src
                out = np.stack([dst[emit], m[emit]], axis=1)  # (hi, lo)
        self._write("ss", self.round_, rank, out, out[:, 0])
        StateLayout(self.output).write_task_stats(f"ls{self.round_:03d}", rank, stats)
        return
        yield


class SmallStarStage(_RoundStage):
    """One small-star pass over partition ``rank`` of round ``round_``."""

    name = "dedup: components (small-star)"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        edges = self._input("ss", rank)  # [hi, lo], hi > lo, sorted by hi
        out = np.empty((0, 2), dtype=np.uint64)
        if len(edges):
            with self.track_time():
                hi, lo = edges[:, 0], edges[:, 1]
                starts = _group_starts(hi)
                mins = np.minimum.reduceat(lo, starts)
                m = np.repeat(mins, np.diff(np.append(starts, len(hi))))
                moved = lo != m
                undirected = np.concatenate(
                    [np.stack([lo[moved], m[moved]], axis=1), np.stack([hi[starts], mins], axis=1)]
                )
                out = np.concatenate([undirected, undirected[:, ::-1]])
        self._write("ls", self.round_ + 1, rank, out, out[:, 0])
        return
        yield


def run_components(
    run_stage: Callable[[str, PipelineStep, int], None],
    *,
    output: str,
    parts: int,
    barrier: Callable[[], None] = lambda: None,
) -> int:
    """Alternate large-star and small-star rounds until a large-star round leaves the edge set
    unchanged (same order-independent hash and edge count in every partition); return that
    round. ``run_stage(name, step, tasks)`` runs one stage's tasks, on an executor or in
    process (:func:`run_tasks_in_process`); ``barrier()`` is called before a round's stats are
    read (it stops the driver while that round is still queued on Slurm). Round 0 never ends
    the loop, so its small-star and round 1 go out without reading anything."""
    layout = StateLayout(output)

    def edge_set(round_: int) -> tuple[int, int]:
        stats = layout.read_task_stats(f"ls{round_:03d}")
        return sum(s["hash"] for s in stats) % (1 << 64), sum(s["edges"] for s in stats)

    for round_ in range(MAX_ROUNDS + 1):
        run_stage(f"components-ls{round_:03d}", LargeStarStage(output=output, parts=parts, round_=round_), parts)
        if round_ == 0:
            run_stage("components-ss000", SmallStarStage(output=output, parts=parts, round_=0), parts)
            continue
        barrier()
        if edge_set(round_) == edge_set(round_ - 1):
            return round_
        run_stage(f"components-ss{round_:03d}", SmallStarStage(output=output, parts=parts, round_=round_), parts)
    raise HanforgeError(f"connected components did not converge in {MAX_ROUNDS} rounds")


def run_tasks_in_process(name: str, step: PipelineStep, tasks: int) -> None:
    """A ``run_stage`` for :func:`run_components` that runs every task here, one after another."""
    for rank in range(tasks):
        list(step.run(rank=rank))


class ElectStage(PipelineStep):
    """Partition ``rank`` of the final stars: pick each cluster's kept document, write assignments."""

    type = "hanforge"
    name = "dedup: elect"

    def __init__(self, *, output: str, config: DedupConfig, final_round: int, reference: str | None) -> None:
        super().__init__()
        self.output = output
        self.config = config
        self.final_round = final_round
        self.reference = reference

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        layout = StateLayout(self.output)
        folder = layout.cc_dir("ls", self.final_round, rank)
        edges = unique_rows(load_pairs(sorted(folder.glob("*.npy"))))
        edges = edges[edges[:, 0] < edges[:, 1]]  # root -> leaf rows of roots in this partition
        roots = np.unique(edges[:, 0])
        member = np.concatenate([roots, edges[:, 1]])
        cluster = np.concatenate([roots, edges[:, 0]])
        stats = {"components": int(len(roots)), "stars": 0, "members": int(len(member)), "largest": 0}
        if len(member):
            docs = DocFiles(self.output, reference=self.reference)
            score = docs.rows(member, "score")
            exact = docs.rows(member, "exact")
            is_ref = key_shard(member) >= REF_BASE
            # best first within a cluster: reference docs, then highest score, then smallest key
            order = np.lexsort((member, -score, ~is_ref, cluster))
            member, cluster, exact = member[order], cluster[order], exact[order]
            starts = _group_starts(cluster)
            sizes = np.diff(np.append(starts, len(cluster)))
            kept = np.repeat(member[starts], sizes)  # plain components: the best member stays
            if self.config.near and self.config.split_clusters:
                sigs = None
                for a, g in zip(starts[sizes > 2].tolist(), sizes[sizes > 2].tolist()):
                    if g > GREEDY_LIMIT:
                        continue
                    if sigs is None:
                        sigs = docs.rows(member, "sig")
                    kept[a : a + g] = member[a : a + g][greedy_centers(sigs[a : a + g], self.config.threshold)]
            # stars: one kept document and the members it stands for, in keep order
            order = np.lexsort((np.arange(len(member)), kept))
            member, kept, exact = member[order], kept[order], exact[order]
            starts = _group_starts(kept)
            sizes = np.diff(np.append(starts, len(kept)))
            size = np.repeat(sizes, sizes).astype(np.uint32)
            # exact_duplicate: a better-ranked member of the star has the same normalized text
            by_text = np.lexsort((np.arange(len(member)), exact, kept))
            first_of_text = np.ones(len(member), dtype=bool)
            first_of_text[1:] = (kept[by_text][1:] != kept[by_text][:-1]) | (exact[by_text][1:] != exact[by_text][:-1])
            repeated_text = np.empty(len(member), dtype=bool)
            repeated_text[by_text] = ~first_of_text
            reason = np.where(member == kept, 0, np.where(repeated_text, 1, 2)).astype(np.uint8)
            stats["stars"] = int((sizes > 1).sum())
            stats["largest"] = int(sizes.max())
            shard = key_shard(member)
            for s in np.unique(shard[shard < REF_BASE]):
                sel = shard == s
                records = np.empty(int(sel.sum()), dtype=ASSIGN_DTYPE)
                records["row"] = key_row(member[sel])
                records["kept"] = kept[sel]
                records["size"] = size[sel]
                records["reason"] = reason[sel]
                save_npy(layout.assign_file(int(s), rank), np.sort(records, order="row"))
        layout.write_task_stats("elect", rank, stats)
        return
        yield
