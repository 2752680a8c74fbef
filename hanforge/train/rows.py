"""Packed token-shard rows for transformers' Trainer: the row order (exact resume, rank sharding) and batches.

:class:`RowStream` is the ``Sampler`` the trainers return from ``_get_train_sampler``: an endless,
seeded stream of row indices built on :class:`~hanforge.shards.ResumableSampler` (epoch ``e`` is
the permutation of ``numpy.random.default_rng([seed, e])``; rank ``r`` of ``w`` takes every
``w``-th row). Its starting point is *computed* when iteration starts, from the number of rows this
rank has consumed = ``global_step * batch_size * grad_accum``, which the Trainer restores from its
checkpoint before it iterates. So no loader state is saved, prefetching cannot skew it, and a
resumed run sees exactly the rows the uninterrupted run saw after that step, on every rank.

:class:`PackedRowsCollator` stacks ``TokenShardDataset`` items into the model's keyword arguments
(``run.document_masking``):

* transformers backend: ``input_ids``, ``position_ids`` restarting at each document and **no**
  ``attention_mask``; transformers 5 (``masking_utils.find_packed_sequence_indices``) or the
  hanforge kernel chosen by ``model.attention`` (flex / varlen) keeps every token inside its
  document. ``use_cache=False`` is set on the model (with a KV cache transformers skips the detection).
* unsloth backend: the batch is flattened to ``[1, B*S]`` with ``packed_seq_lengths`` (segment
  lengths), so unsloth runs its varlen attention; each row start is a segment start.
* ``document_masking = false``: ``input_ids`` + ``attention_mask``, plain causal attention over the row.

In every case no token is *predicted* across documents: the loader sets label -100 at every
segment start, the collator at each row start. ``num_tokens`` (non-padding tokens) rides along
for throughput figures; the trainer takes it out before the forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler

from hanforge.shards import ResumableSampler
from hanforge.shards.token_format import IGNORE_INDEX


class RowStream(Sampler[int]):
    """Endless row indices for one rank, starting where ``start()`` rows have been consumed."""

    def __init__(
        self, num_rows: int, *, seed: int, shuffle: bool, rank: int, world_size: int, start: Callable[[], int]
    ) -> None:
        self.sampler = ResumableSampler(num_rows, seed=seed, shuffle=shuffle, rank=rank, world_size=world_size)
        self.start = start

    def position(self, num_consumed: int) -> dict[str, int]:
        """Epoch and offset inside it after ``num_consumed`` rows of this rank."""
        epoch, offset = divmod(int(num_consumed), self.sampler.num_samples)
        return {"epoch": epoch, "num_consumed": offset}

    def __iter__(self) -> Iterator[int]:
        self.sampler.load_state_dict({**self.sampler.state_dict(), **self.position(self.start())})
        while True:  # ResumableSampler moves on to the next epoch each time it is iterated again
            yield from self.sampler


class PackedRowsCollator:
    """Stack ``TokenShardDataset`` items into forward kwargs (see the module docstring)."""

    def __init__(self, *, document_masking: bool, flatten: bool) -> None:
        self.document_masking = document_masking
        self.flatten = flatten

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        batch = {k: torch.stack([it[k] for it in items]) for k in ("input_ids", "labels", "position_ids")}
        attention_mask = torch.stack([it["attention_mask"] for it in items])
        labels = batch["labels"].clone()
        labels[:, 0] = IGNORE_INDEX  # never predict a row's first token (matters once rows are flattened)
        out: dict[str, torch.Tensor] = {"num_tokens": attention_mask.sum()}
        if not self.document_masking:
            return {**out, "input_ids": batch["input_ids"], "attention_mask": attention_mask, "labels": labels}
        if self.flatten:
            pos = batch["position_ids"].reshape(1, -1)
            starts = torch.nonzero(pos[0] == 0).flatten()
            lengths = torch.diff(starts, append=torch.tensor([pos.shape[1]]))
            return {
                **out,
                "input_ids": batch["input_ids"].reshape(1, -1),
                "position_ids": pos,
                "labels": labels.reshape(1, -1),
                "packed_seq_lengths": lengths.to(torch.int32),
            }
        return {**out, "input_ids": batch["input_ids"], "position_ids": batch["position_ids"], "labels": labels}
