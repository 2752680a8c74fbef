"""Torch access to token shards: :class:`TokenShardDataset` and :class:`ResumableSampler`.

The dataset memory-maps every ``tokens-*.arrow`` shard of a token-shard set and serves rows as
int64 tensors (``input_ids``, ``labels``, ``position_ids``, ``attention_mask``); the only copy
is the cast of one row. The sampler yields a seeded per-epoch permutation split across ranks
and can save and restore its position inside an epoch exactly. docs/token-shards.md is the
reference for both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hanforge.errors import ShardError
from hanforge.extras import require_torch
from hanforge.shards.token_format import IGNORE_INDEX, open_token_shard, read_manifest

require_torch("hanforge.shards.TokenShardDataset")  # a one-line "what to install", not ModuleNotFoundError
import torch  # noqa: E402
from torch.utils.data import Dataset, Sampler  # noqa: E402


class _MappedShard:
    """Numpy views over one memory-mapped shard, batch by batch."""

    def __init__(self, path: Path, seq_len: int) -> None:
        self.table = open_token_shard(path)
        self.ids: list[np.ndarray] = []
        self.masks: list[np.ndarray] | None = [] if "loss_mask" in self.table.column_names else None
        self.lens_offsets: list[np.ndarray] = []
        self.lens_values: list[np.ndarray] = []
        self.num_pad: list[np.ndarray] = []
        self.continues: list[np.ndarray] = []
        starts = [0]
        for batch in self.table.to_batches():
            n = batch.num_rows
            self.ids.append(batch.column("input_ids").flatten().to_numpy(zero_copy_only=True).reshape(n, seq_len))
            if self.masks is not None:
                self.masks.append(batch.column("loss_mask").flatten().to_numpy(zero_copy_only=True).reshape(n, seq_len))
            lens = batch.column("doc_lens")
            self.lens_offsets.append(lens.offsets.to_numpy(zero_copy_only=True))
            self.lens_values.append(lens.values.to_numpy(zero_copy_only=True))
            self.num_pad.append(batch.column("num_pad").to_numpy(zero_copy_only=True))
            self.continues.append(batch.column("continues").to_numpy(zero_copy_only=False))
            starts.append(starts[-1] + n)
        self.batch_starts = np.asarray(starts)

    def locate(self, row: int) -> tuple[int, int]:
        b = int(np.searchsorted(self.batch_starts, row, side="right")) - 1
        return b, row - int(self.batch_starts[b])


class TokenShardDataset(Dataset):
    """Map-style dataset over a token-shard folder (see docs/token-shards.md).

    ``ds[i]`` is a dict of int64 tensors of shape ``[seq_len]``: ``input_ids``, ``labels``
    (-100 at padding, where the loss mask is 0, and at each document start after position 0),
    ``position_ids`` (restarting at 0 at every segment start) and ``attention_mask``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest: dict[str, Any] = read_manifest(self.path)
        self.seq_len: int = int(self.manifest["seq_len"])
        self.vocab_size: int = int(self.manifest["vocab_size"])
        self.pad_id: int = int(self.manifest["pad_id"])
        self.has_loss_mask: bool = bool(self.manifest["has_loss_mask"])
        self._files = [s["file"] for s in self.manifest["shards"]]
        for name in self._files:
            if not (self.path / name).is_file():
                raise ShardError(f"{self.path / name}: listed in manifest.json but missing")
        counts = [int(s["num_rows"]) for s in self.manifest["shards"]]
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self._shards: dict[int, _MappedShard] = {}
        self._arange = np.arange(self.seq_len, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shards"] = {}  # maps are reopened lazily in each worker process
        return state

    def _shard(self, k: int) -> _MappedShard:
        shard = self._shards.get(k)
        if shard is None:
            shard = self._shards[k] = _MappedShard(self.path / self._files[k], self.seq_len)
            if shard.table.num_rows != self._starts[k + 1] - self._starts[k]:
                raise ShardError(f"{self.path / self._files[k]}: row count differs from manifest.json")
        return shard

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as zero-copy numpy views plus its segment lengths and padding count."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} out of range for {n} rows")
        k = int(np.searchsorted(self._starts, i, side="right")) - 1
        shard = self._shard(k)
        b, r = shard.locate(i - int(self._starts[k]))
        off = shard.lens_offsets[b]
        return {
            "input_ids": shard.ids[b][r],
            "loss_mask": shard.masks[b][r] if shard.masks is not None else None,
            "doc_lens": shard.lens_values[b][off[r] : off[r + 1]],
            "num_pad": int(shard.num_pad[b][r]),
            "continues": bool(shard.continues[b][r]),
        }

    def doc_lens(self, i: int) -> list[int]:
        """Segment lengths of row ``i`` in order (padding excluded)."""
        return [int(x) for x in self.row(i)["doc_lens"]]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        row = self.row(int(i))
        seq_len = self.seq_len
        input_ids = row["input_ids"].astype(np.int64)
        lens = row["doc_lens"].astype(np.int64)
        seg_starts = np.cumsum(lens) - lens
        num_tokens = seq_len - row["num_pad"]
        # position ids: index minus the start of the segment containing it (padding: last segment)
        starts_per_token = np.repeat(seg_starts, lens)
        if row["num_pad"]:
            last = seg_starts[-1] if len(seg_starts) else 0
            starts_per_token = np.concatenate([starts_per_token, np.full(row["num_pad"], last)])
        position_ids = self._arange - starts_per_token
        labels = input_ids.copy()
        labels[seg_starts[1:]] = IGNORE_INDEX
        labels[num_tokens:] = IGNORE_INDEX
        if row["loss_mask"] is not None:
            labels[row["loss_mask"] == 0] = IGNORE_INDEX
        attention_mask = np.ones(seq_len, np.int64)
        attention_mask[num_tokens:] = 0
        return {
            "input_ids": torch.from_numpy(input_ids),
            "labels": torch.from_numpy(labels),
            "position_ids": torch.from_numpy(position_ids),
            "attention_mask": torch.from_numpy(attention_mask),
        }


class ResumableSampler(Sampler[int]):
    """Seeded, rank-aware sampler that resumes mid-epoch exactly (see docs/token-shards.md).

    Epoch ``e`` uses the permutation of ``numpy.random.default_rng([seed, e])`` (or ``range``
    when ``shuffle`` is False), padded by wrapping to a multiple of ``world_size`` (or cut with
    ``drop_last``); rank ``r`` takes ``perm[r::world_size]``.
    """

    def __init__(
        self,
        dataset_or_len: Any,
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        n = dataset_or_len if isinstance(dataset_or_len, int) else len(dataset_or_len)
        if n <= 0:
            raise ShardError(f"ResumableSampler needs a non-empty dataset, got {n} rows")
        if world_size <= 0 or not 0 <= rank < world_size:
            raise ShardError(f"rank {rank} is not in [0, world_size={world_size})")
        self.num_rows = n
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.num_samples = n // world_size if drop_last else math.ceil(n / world_size)
        if self.num_samples == 0:
            raise ShardError(f"{n} rows are too few for world_size {world_size} with drop_last")
        self.epoch = 0
        self.num_consumed = 0

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning (unless it is the epoch just restored)."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.num_consumed = 0

    def _indices(self) -> np.ndarray:
        if self.shuffle:
            perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_rows)
        else:
            perm = np.arange(self.num_rows)
        total = self.num_samples * self.world_size
        if total > len(perm):
            perm = np.resize(perm, total)  # wraps around, as DistributedSampler pads
        else:
            perm = perm[:total]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        if self.num_consumed >= self.num_samples:  # previous epoch finished: go on to the next
            self.epoch += 1
            self.num_consumed = 0
        indices = self._indices()
        while self.num_consumed < len(indices):
            i = int(indices[self.num_consumed])
            self.num_consumed += 1
            yield i

    def __len__(self) -> int:
        return self.num_samples - self.num_consumed

    def state_dict(self, *, num_consumed: int | None = None) -> dict[str, Any]:
        """Position to resume from; ``num_consumed`` overrides the count of yielded indices."""
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "num_consumed": self.num_consumed if num_consumed is None else int(num_consumed),
            "num_samples": self.num_samples,
            "world_size": self.world_size,
            "rank": self.rank,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the sampler must be built over the same rows and ranks."""
        for key in ("seed", "world_size", "shuffle", "num_samples"):
            if state.get(key) != getattr(self, key):
                raise ShardError(
                    f"sampler state {key}={state.get(key)!r} does not match this sampler ({getattr(self, key)!r})"
                )
        if not 0 <= state["num_consumed"] <= self.num_samples:
            raise ShardError(f"sampler state num_consumed={state['num_consumed']} outside [0, {self.num_samples}]")
        self.epoch = int(state["epoch"])
        self.num_consumed = int(state["num_consumed"])
