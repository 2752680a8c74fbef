"""Arrow IPC token shards: the schema, the packing writer and manifest helpers.

A token-shard set is a folder of uncompressed Arrow IPC files ``tokens-NNNNN.arrow`` (rows of
exactly ``seq_len`` token ids) plus ``manifest.json``; docs/token-shards.md is the long form.
:class:`TokenShardWriter` packs documents (already tokenized ids, optionally with a loss mask)
into rows and writes shards atomically; :func:`write_token_shards` is its one-call form, used by
``hanforge tokenize`` and by the SFT/DPO path of the trainer.

Packing is written here rather than taken from a library because the format needs exact,
vectorised control of segment boundaries, continuation flags and byte-identical output, which
the packers in trl/torchtitan (in-memory, tensor-level) do not provide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hanforge.atomic import atomic_path
from hanforge.errors import ShardError
from hanforge.fingerprint import file_fingerprint, write_manifest

FORMAT_VERSION = 1
SHARD_PREFIX = "tokens"
BATCH_ROWS = 1024
DEFAULT_ROWS_PER_SHARD = 8192
DEFAULT_WINDOW = 64
#: Label of a position that is not a training target (torch's cross-entropy ``ignore_index``).
IGNORE_INDEX = -100


def appends_eos(ids: np.ndarray, lengths: np.ndarray, eos_id: int | None) -> np.ndarray:
    """Per document (``ids`` flat, ``lengths`` per document): whether packing appends EOS to it.

    The one EOS rule of hanforge: a non-empty document gets EOS unless its last id already is
    EOS; empty documents are skipped, and without an EOS id nothing is appended. The packer
    (:class:`TokenShardWriter`) and the mixer's exact token count both use it, so a mix's
    budget equals what ``hanforge tokenize`` writes.
    """
    lengths = np.asarray(lengths, np.int64)
    if eos_id is None or not len(ids):
        return np.zeros(len(lengths), bool)
    last = np.asarray(ids)[np.maximum(np.cumsum(lengths) - 1, 0)]
    return (lengths > 0) & (last != eos_id)


def id_dtype_for(vocab_size: int) -> np.dtype:
    """The narrowest unsigned dtype holding every id below ``vocab_size`` (uint16 or uint32)."""
    if vocab_size <= 0:
        raise ShardError(f"vocab_size must be positive, got {vocab_size}")
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    if vocab_size <= 1 << 32:
        return np.dtype(np.uint32)
    raise ShardError(f"vocab_size {vocab_size} does not fit 4-byte ids")


def token_shard_schema(*, seq_len: int, vocab_size: int, with_loss_mask: bool) -> pa.Schema:
    """The Arrow schema of one token shard (see docs/token-shards.md)."""
    id_type = pa.uint16() if id_dtype_for(vocab_size) == np.uint16 else pa.uint32()
    fields = [
        pa.field("input_ids", pa.list_(pa.field("item", id_type, nullable=False), seq_len), nullable=False),
        pa.field("doc_lens", pa.list_(pa.field("item", pa.int32(), nullable=False)), nullable=False),
        pa.field("continues", pa.bool_(), nullable=False),
        pa.field("num_pad", pa.int32(), nullable=False),
    ]
    if with_loss_mask:
        fields.append(
            pa.field("loss_mask", pa.list_(pa.field("item", pa.uint8(), nullable=False), seq_len), nullable=False)
        )
    return pa.schema(
        fields,
        metadata={
            b"hanforge.format": b"token-shard",
            b"hanforge.format_version": str(FORMAT_VERSION).encode(),
            b"hanforge.seq_len": str(seq_len).encode(),
            b"hanforge.vocab_size": str(vocab_size).encode(),
        },
    )


def shard_name(index: int) -> str:
    """File name of shard ``index``."""
    return f"{SHARD_PREFIX}-{index:05d}.arrow"


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Load ``folder/manifest.json`` of a complete token-shard set (ShardError if missing)."""
    import json

    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise ShardError(f"{path}: no manifest.json — not a complete token-shard set (run `hanforge tokenize`)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("kind") != "token-shards":
        raise ShardError(f"{path}: kind is {manifest.get('kind')!r}, expected 'token-shards'")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ShardError(f"{path}: format_version {manifest.get('format_version')!r} is not {FORMAT_VERSION}")
    return manifest


def open_token_shard(path: str | Path) -> pa.Table:
    """Memory-map one shard and return its table (zero-copy: buffers point into the map)."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path}: token shard not found")
    source = pa.memory_map(str(path), "r")
    try:
        return pa.ipc.open_file(source).read_all()
    except pa.ArrowInvalid as exc:
        raise ShardError(f"{path}: not a readable Arrow IPC token shard ({exc})") from None


class TokenShardWriter:
    """Pack documents into rows of ``seq_len`` ids and write them as Arrow IPC token shards.

    ``add(ids, loss_mask, source=...)`` appends one document (the EOS id is appended unless the
    document already ends with it). In split mode documents are concatenated and cut into rows;
    in whole mode (``split_documents=False``) each document stays in one row (first-fit over a
    window of open rows; longer documents are truncated and counted). ``close()`` writes the
    last shard and ``manifest.json`` and returns the manifest.

    ``skip_existing=True`` (used by resumed runs) does all the packing but does not rewrite a
    shard file that already exists; the caller guarantees it came from the same inputs.
    """

    def __init__(
        self,
        output: str | Path,
        *,
        seq_len: int,
        vocab_size: int,
        eos_id: int | None = None,
        pad_id: int | None = None,
        split_documents: bool = True,
        rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
        with_loss_mask: bool | None = None,
        window: int = DEFAULT_WINDOW,
        skip_existing: bool = False,
    ) -> None:
        if seq_len <= 1:
            raise ShardError(f"seq_len must be at least 2, got {seq_len}")
        if rows_per_shard <= 0:
            raise ShardError(f"rows_per_shard must be positive, got {rows_per_shard}")
        self.output = Path(output)
        self.seq_len = seq_len
        self.vocab_size = vocab_size
        self.id_dtype = id_dtype_for(vocab_size)
        self.eos_id = eos_id
        self.pad_id = pad_id if pad_id is not None else (eos_id if eos_id is not None else 0)
        for name, value in (("eos_id", eos_id), ("pad_id", self.pad_id)):
            if value is not None and not 0 <= value < vocab_size:
                raise ShardError(f"{name} {value} is outside the vocabulary [0, {vocab_size})")
        self.split_documents = split_documents
        self.rows_per_shard = rows_per_shard
        self.with_loss_mask = with_loss_mask
        self.window = max(1, window)
        self.skip_existing = skip_existing
        self.output.mkdir(parents=True, exist_ok=True)
        if not skip_existing:
            (self.output / "manifest.json").unlink(missing_ok=True)
        # statistics
        self.shards: list[dict[str, Any]] = []
        self.sources: dict[str, dict[str, int]] = {}
        self.num_docs = 0
        self.num_truncated_docs = 0
        self.num_skipped_empty_docs = 0
        # split mode: pending token pieces, their masks and segment lengths
        self._ids: list[np.ndarray] = []
        self._masks: list[np.ndarray] = []
        self._lens: list[int] = []
        self._pending = 0
        self._first_continues = False
        # whole mode: open rows [(pieces, masks, lens, used)] and finished rows
        self._open: list[list[Any]] = []
        self._rows_ids: list[np.ndarray] = []
        self._rows_masks: list[np.ndarray] = []
        self._rows_lens: list[list[int]] = []
        self._closed = False

    # -- adding documents ----------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[int] | np.ndarray,
        loss_mask: Sequence[int] | np.ndarray | None = None,
        *,
        source: str = "default",
    ) -> None:
        """Append one document (token ids and an optional 0/1 loss mask of the same length)."""
        if self._closed:
            raise ShardError("TokenShardWriter.add after close()")
        index = self.num_docs + self.num_skipped_empty_docs
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ShardError(f"document {index}: ids must be a flat sequence")
        if len(arr) == 0:
            self.num_skipped_empty_docs += 1
            return
        if arr.dtype.kind not in "iu":
            raise ShardError(f"document {index}: ids must be integers, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise ShardError(f"document {index}: token id outside [0, {self.vocab_size})")
        if self.with_loss_mask is None:
            self.with_loss_mask = loss_mask is not None
        if loss_mask is not None and not self.with_loss_mask:
            raise ShardError(
                f"document {index}: has a loss mask but the first document had none "
                "(pass with_loss_mask=True to write a loss_mask column)"
            )
        mask = None
        if self.with_loss_mask:
            mask = np.ones(len(arr), np.uint8) if loss_mask is None else np.asarray(loss_mask, dtype=np.uint8)
            if mask.shape != arr.shape:
                raise ShardError(f"document {index}: loss_mask length {len(mask)} != ids length {len(arr)}")
        arr = arr.astype(self.id_dtype, copy=False)
        if appends_eos(arr, np.array([len(arr)]), self.eos_id)[0]:
            arr = np.append(arr, np.array([self.eos_id], self.id_dtype))
            if mask is not None:
                mask = np.append(mask, np.uint8(1))
        self.num_docs += 1
        stats = self.sources.setdefault(source, {"num_docs": 0, "num_tokens": 0})
        stats["num_docs"] += 1
        if self.split_documents:
            stats["num_tokens"] += len(arr)
            self._add_split(arr, mask)
        else:
            if len(arr) > self.seq_len:
                self.num_truncated_docs += 1
                arr = arr[: self.seq_len]
                mask = mask[: self.seq_len] if mask is not None else None
            stats["num_tokens"] += len(arr)
            self._add_whole(arr, mask)

    def add_documents(
        self, ids: np.ndarray, lengths: np.ndarray, *, sources: np.ndarray, source_names: Sequence[str]
    ) -> None:
        """Append many documents at once: ``ids`` flat, ``lengths`` per document, ``sources`` as
        indexes into ``source_names``. Split mode without loss masks only; the shards and the
        manifest are the same as from :meth:`add` called per document."""
        if self._closed:
            raise ShardError("TokenShardWriter.add_documents after close()")
        if not self.split_documents or self.with_loss_mask:
            raise ShardError("add_documents packs split documents without a loss mask; use add()")
        self.with_loss_mask = False
        ids, lengths = np.asarray(ids), np.asarray(lengths, np.int64)
        if ids.ndim != 1 or lengths.ndim != 1 or len(ids) != int(lengths.sum()) or len(sources) != len(lengths):
            raise ShardError(
                f"add_documents: {len(ids)} ids, {len(lengths)} lengths summing to "
                f"{int(lengths.sum())}, {len(sources)} sources do not line up"
            )
        first = self.num_docs + self.num_skipped_empty_docs
        if len(ids):
            if ids.dtype.kind not in "iu":
                raise ShardError(f"documents {first}…: ids must be integers, got dtype {ids.dtype}")
            bad = (
                np.flatnonzero((ids < 0) | (ids >= self.vocab_size))
                if ids.dtype.kind == "i"
                else np.flatnonzero(ids >= self.vocab_size)
            )
            if len(bad):
                doc = first + int(np.searchsorted(np.cumsum(lengths), bad[0], side="right"))
                raise ShardError(f"document {doc}: token id outside [0, {self.vocab_size})")
        kept = lengths > 0
        self.num_skipped_empty_docs += int((~kept).sum())
        lens, codes = lengths[kept], np.asarray(sources)[kept]
        if not len(lens):
            return
        if self.eos_id is not None:
            with_eos = appends_eos(ids, lens, self.eos_id)
            lens = lens + with_eos
            out = np.empty(int(lens.sum()), self.id_dtype)
            is_eos = np.zeros(len(out), bool)
            is_eos[(np.cumsum(lens) - 1)[with_eos]] = True
            out[is_eos] = self.eos_id
            out[~is_eos] = ids
        else:
            out = ids.astype(self.id_dtype, copy=False)
        self.num_docs += len(lens)
        docs = np.bincount(codes, minlength=len(source_names))
        tokens = np.bincount(codes, weights=lens, minlength=len(source_names))
        for code in np.flatnonzero(docs):
            stats = self.sources.setdefault(source_names[code], {"num_docs": 0, "num_tokens": 0})
            stats["num_docs"] += int(docs[code])
            stats["num_tokens"] += int(tokens[code])
        self._ids.append(out)
        self._lens.extend(lens.tolist())
        self._pending += len(out)
        shard_tokens = self.rows_per_shard * self.seq_len
        while self._pending >= shard_tokens:
            self._flush_split(shard_tokens)

    def _add_split(self, arr: np.ndarray, mask: np.ndarray | None) -> None:
        self._ids.append(arr)
        if mask is not None:
            self._masks.append(mask)
        self._lens.append(len(arr))
        self._pending += len(arr)
        shard_tokens = self.rows_per_shard * self.seq_len
        while self._pending >= shard_tokens:
            self._flush_split(shard_tokens)

    def _flush_split(self, num_tokens: int) -> None:
        """Emit the first ``num_tokens`` pending tokens (a multiple of seq_len, or all) as a shard."""
        flat = np.concatenate(self._ids)
        masks = np.concatenate(self._masks) if self.with_loss_mask else None
        lens = np.asarray(self._lens, np.int64)
        take = min(num_tokens, len(flat))
        num_rows = -(-take // self.seq_len)
        ends = np.cumsum(lens)
        starts = ends - lens
        # cut points: document starts inside [0, take) and row starts, sorted and unique
        doc_starts = starts[starts < take]
        row_starts = np.arange(num_rows, dtype=np.int64) * self.seq_len
        cuts = np.union1d(doc_starts, row_starts)
        seg_ends = np.append(cuts[1:], take)
        seg_lens = (seg_ends - cuts).astype(np.int32)
        offsets = np.searchsorted(cuts, row_starts).astype(np.int32)
        offsets = np.append(offsets, len(cuts)).astype(np.int32)
        continues = ~np.isin(row_starts, doc_starts)
        if self._first_continues and num_rows:
            continues[0] = True
        ids = flat[:take]
        mask_rows = masks[:take] if masks is not None else None
        num_pad = num_rows * self.seq_len - take
        if num_pad:
            ids = np.concatenate([ids, np.full(num_pad, self.pad_id, self.id_dtype)])
            if mask_rows is not None:
                mask_rows = np.concatenate([mask_rows, np.zeros(num_pad, np.uint8)])
        pads = np.zeros(num_rows, np.int32)
        if num_rows:
            pads[-1] = num_pad
        self._write_shard(ids.reshape(num_rows, self.seq_len), mask_rows, offsets, seg_lens, continues, pads)
        # keep the remainder: the document cut at ``take`` continues into the next shard
        rest = flat[take:]
        if len(rest):
            cut_doc = int(np.searchsorted(ends, take, side="right"))
            remaining = [int(ends[cut_doc] - take)] + [int(x) for x in lens[cut_doc + 1 :]]
            self._first_continues = bool(starts[cut_doc] < take)
            self._ids = [rest]
            self._masks = [masks[take:]] if masks is not None else []
            self._lens = remaining
        else:
            self._first_continues = False
            self._ids, self._masks, self._lens = [], [], []
        self._pending = len(rest)

    def _add_whole(self, arr: np.ndarray, mask: np.ndarray | None) -> None:
        n = len(arr)
        for row in self._open:
            if row[3] + n <= self.seq_len:
                break
        else:
            if len(self._open) >= self.window:
                self._close_row(0)
            row = [[], [], [], 0]
            self._open.append(row)
        row[0].append(arr)
        if mask is not None:
            row[1].append(mask)
        row[2].append(n)
        row[3] += n
        if row[3] == self.seq_len:
            self._close_row(next(i for i, r in enumerate(self._open) if r is row))

    def _close_row(self, position: int) -> None:
        pieces, masks, lens, used = self._open.pop(position)
        ids = np.concatenate(pieces)
        pad = self.seq_len - used
        if pad:
            ids = np.concatenate([ids, np.full(pad, self.pad_id, self.id_dtype)])
        self._rows_ids.append(ids)
        if self.with_loss_mask:
            m = np.concatenate(masks)
            self._rows_masks.append(np.concatenate([m, np.zeros(pad, np.uint8)]) if pad else m)
        self._rows_lens.append(lens)
        if len(self._rows_ids) >= self.rows_per_shard:
            self._flush_whole()

    def _flush_whole(self) -> None:
        if not self._rows_ids:
            return
        ids = np.stack(self._rows_ids)
        masks = np.concatenate(self._rows_masks) if self.with_loss_mask else None
        seg_lens = np.asarray([x for lens in self._rows_lens for x in lens], np.int32)
        offsets = np.zeros(len(self._rows_lens) + 1, np.int32)
        np.cumsum([len(lens) for lens in self._rows_lens], out=offsets[1:])
        pads = (self.seq_len - np.asarray([sum(lens) for lens in self._rows_lens])).astype(np.int32)
        continues = np.zeros(len(self._rows_ids), bool)
        self._write_shard(ids, masks, offsets, seg_lens, continues, pads)
        self._rows_ids, self._rows_masks, self._rows_lens = [], [], []

    # -- writing -------------------------------------------------------------------------------
    def _write_shard(
        self,
        ids: np.ndarray,
        masks: np.ndarray | None,
        offsets: np.ndarray,
        seg_lens: np.ndarray,
        continues: np.ndarray,
        pads: np.ndarray,
    ) -> None:
        index = len(self.shards)
        path = self.output / shard_name(index)
        num_rows = ids.shape[0]
        if not (self.skip_existing and path.is_file()):
            schema = token_shard_schema(
                seq_len=self.seq_len, vocab_size=self.vocab_size, with_loss_mask=bool(self.with_loss_mask)
            )
            columns = [
                pa.FixedSizeListArray.from_arrays(pa.array(ids.reshape(-1)), self.seq_len),
                pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(seg_lens, pa.int32())),
                pa.array(continues, pa.bool_()),
                pa.array(pads, pa.int32()),
            ]
            if self.with_loss_mask:
                columns.append(pa.FixedSizeListArray.from_arrays(pa.array(masks), self.seq_len))
            table = pa.Table.from_arrays(columns, schema=schema)
            with atomic_path(path) as tmp, pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
                writer.write_table(table, max_chunksize=BATCH_ROWS)
        num_pad = int(pads.sum())
        self.shards.append(
            {
                "file": path.name,
                "num_rows": int(num_rows),
                "num_tokens": int(num_rows * self.seq_len - num_pad),
                "num_pad_tokens": num_pad,
                "num_doc_starts": int(len(seg_lens) - continues.sum()),
                "fingerprint": file_fingerprint(path),
            }
        )

    def close(
        self, *, config: dict[str, Any] | None = None, inputs: dict[str, str] | None = None, **manifest_extra: Any
    ) -> dict[str, Any]:
        """Write the remaining rows and ``manifest.json``; return the manifest."""
        if self._closed:
            raise ShardError("TokenShardWriter.close() called twice")
        if self.split_documents:
            if self._pending:
                self._flush_split(self._pending)
        else:
            while self._open:
                self._close_row(0)
            self._flush_whole()
        self._closed = True
        # remove shards of an earlier, longer run into the same folder
        for stale in self.output.glob(f"{SHARD_PREFIX}-*.arrow"):
            if stale.name not in {s["file"] for s in self.shards}:
                stale.unlink()
        num_rows = sum(s["num_rows"] for s in self.shards)
        num_tokens = sum(s["num_tokens"] for s in self.shards)
        num_pad = sum(s["num_pad_tokens"] for s in self.shards)
        writer_config = {
            "seq_len": self.seq_len,
            "vocab_size": self.vocab_size,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "split_documents": self.split_documents,
            "rows_per_shard": self.rows_per_shard,
            "window": self.window,
        }
        extra = {
            "format_version": FORMAT_VERSION,
            "seq_len": self.seq_len,
            "vocab_size": self.vocab_size,
            "id_dtype": self.id_dtype.name,
            "eos_id": self.eos_id,
            "pad_id": self.pad_id,
            "has_loss_mask": bool(self.with_loss_mask),
            "split_documents": self.split_documents,
            "tokenizer": None,
            "shuffle_seed": None,
            "shards": self.shards,
            "num_rows": num_rows,
            "num_docs": self.num_docs,
            "num_tokens": num_tokens,
            "num_pad_tokens": num_pad,
            "packing_efficiency": (num_tokens / (num_rows * self.seq_len)) if num_rows else 0.0,
            "num_truncated_docs": self.num_truncated_docs,
            "num_skipped_empty_docs": self.num_skipped_empty_docs,
            "sources": {k: self.sources[k] for k in sorted(self.sources)},
            **manifest_extra,
        }
        return write_manifest(
            self.output,
            kind="token-shards",
            config=config if config is not None else writer_config,
            inputs=inputs or {},
            **extra,
        )


def write_token_shards(
    examples: Iterable[tuple[Sequence[int], Sequence[int] | None]],
    *,
    output: str | Path,
    source: str = "default",
    tokenizer_fingerprint: str | None = None,
    extra_manifest: dict[str, Any] | None = None,
    **writer_options: Any,
) -> dict[str, Any]:
    """Pack already tokenized ``(ids, loss_mask)`` examples into a token-shard set at ``output``.

    ``writer_options`` are those of :class:`TokenShardWriter` (``seq_len`` and ``vocab_size``
    required; ``eos_id``, ``pad_id``, ``split_documents``, ``rows_per_shard``, ``with_loss_mask``).
    ``loss_mask`` is a 0/1 sequence as long as ``ids`` or None (all ones). ``eos_id`` is appended
    to each example unless it already ends with it (None: append nothing). ``split_documents``
    False keeps every example whole in one row (SFT/DPO). Returns the manifest (also written to
    ``output/manifest.json``). See docs/token-shards.md.
    """
    writer = TokenShardWriter(output, **writer_options)
    for example in examples:
        if isinstance(example, tuple | list) and len(example) == 2 and not np.isscalar(example[0]):
            ids, mask = example
        else:
            raise ShardError("write_token_shards: each example must be a pair (ids, loss_mask or None)")
        writer.add(ids, mask, source=source)
    extra = dict(extra_manifest or {})
    if tokenizer_fingerprint is not None:
        extra["tokenizer"] = {"fingerprint": tokenizer_fingerprint, "name": None}
    return writer.close(**extra)
