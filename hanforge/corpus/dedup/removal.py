"""The last dedup stage: rewrite each input shard as kept and excluded shards.

One task per input shard joins the shard's rows with its cluster assignments (only the
``assign/sSSSSS/*`` files of that shard, written by :class:`~.components.ElectStage`). Kept
documents get ``dup_cluster_id`` (the id of the cluster's kept document; a singleton's own id)
and ``dup_cluster_size``; removed ones get ``drop_reason`` (``exact_duplicate`` or
``near_duplicate``), ``drop_step = "dedup"`` and ``duplicate_of`` (the kept document's id).
Rows already dropped in the input pass through to the excluded shards unchanged. The original
text is written; the normalized text never leaves the signature stage. Memory per task: one
shard plus its assignments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from hanforge.corpus.dedup.layout import ASSIGN_DTYPE, REASONS, DocFiles, StateLayout
from hanforge.shards.text_schema import TEXT_SHARD_SCHEMA
from hanforge.shards.text_writer import TextShardWriter, conform_table

DROP_STEP = "dedup"


def shard_assignments(layout: StateLayout, shard: int) -> np.ndarray:
    """All assignment records of ``shard``, sorted by row."""
    files = sorted((layout.work / "assign" / f"s{shard:05d}").glob("*.npy"))
    parts = [np.load(f, allow_pickle=False) for f in files]
    out = np.concatenate(parts) if parts else np.empty(0, dtype=ASSIGN_DTYPE)
    return np.sort(out, order="row")


class RemovalStage(PipelineStep):
    """Task ``rank`` = input shard ``rank`` → ``shards/`` and ``excluded/``."""

    type = "hanforge"
    name = "dedup: removal"

    def __init__(self, shards: list[str], *, output: str, reference: str | None, max_bytes: int) -> None:
        super().__init__()
        self.shards = shards
        self.output = output
        self.reference = reference
        self.max_bytes = max_bytes

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        layout = StateLayout(self.output)
        table = conform_table(pq.read_table(self.shards[rank]), TEXT_SHARD_SCHEMA)
        n = table.num_rows
        ids = table.column("id").to_pylist()
        previous = table.column("drop_reason").to_pylist()
        cluster_id, cluster_size = list(ids), [1] * n
        duplicate_of: list[str | None] = [None] * n
        reason: list[str | None] = list(previous)
        step: list[str | None] = table.column("drop_step").to_pylist()
        assign = shard_assignments(layout, rank)
        kept_ids = DocFiles(self.output, reference=self.reference).ids(assign["kept"]) if len(assign) else []
        for rec, kept_id in zip(assign, kept_ids):
            row = int(rec["row"])
            cluster_id[row], cluster_size[row] = kept_id, int(rec["size"])
            why = REASONS[int(rec["reason"])]
            if why is not None:
                reason[row], step[row], duplicate_of[row] = why, DROP_STEP, kept_id
        for row in range(n):
            if previous[row] is not None:  # dropped before dedup: untouched
                cluster_id[row] = cluster_size[row] = None
        table = (
            table.set_column(
                table.schema.get_field_index("dup_cluster_id"), "dup_cluster_id", pa.array(cluster_id, pa.string())
            )
            .set_column(
                table.schema.get_field_index("dup_cluster_size"), "dup_cluster_size", pa.array(cluster_size, pa.int32())
            )
            .set_column(
                table.schema.get_field_index("duplicate_of"), "duplicate_of", pa.array(duplicate_of, pa.string())
            )
            .set_column(table.schema.get_field_index("drop_reason"), "drop_reason", pa.array(reason, pa.string()))
            .set_column(table.schema.get_field_index("drop_step"), "drop_step", pa.array(step, pa.string()))
        )
        is_kept = pc.is_null(table.column("drop_reason"))
        out = Path(self.output)
        for folder, mask in (("shards", is_kept), ("excluded", pc.invert(is_kept))):
            part = table.filter(mask)
            for old in (out / folder).glob(f"{rank:05d}-*.parquet"):
                old.unlink()  # a partial earlier attempt of this very task
            writer = TextShardWriter(out / folder, prefix=f"{rank:05d}", max_bytes=self.max_bytes)
            if part.num_rows:
                writer.write_table(part)
            writer.close()
        counts = {"input": n, "kept": int(pc.sum(is_kept).as_py() or 0)}
        for r in reason:
            if r is not None:
                counts[r] = counts.get(r, 0) + 1
        layout.write_task_stats("removal", rank, counts)
        return
        yield
