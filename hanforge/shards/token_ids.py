"""Token-id side files: the token ids of every document of a text shard, kept by the job that
already tokenized them so that ``hanforge tokenize`` does not tokenize the same text twice.

``hanforge mix`` (unit ``tokens``) must encode every document to count its tokens. It writes,
beside each output shard ``<mix>/shards/mix-NNNNN.parquet``, the ids of its rows to
``<mix>/token-ids/mix-NNNNN.arrow``: an Arrow IPC file with one column ``ids``
(``large_list<uint32>``, one row per shard row, in order, without EOS: exactly what
:class:`~hanforge.tokenizer.batch_encode.BatchEncoder` returns) whose schema metadata records the
shard's file fingerprint, the tokenizer's fingerprint, the text column and the row count.
``hanforge tokenize`` reuses a side file only when all four match its own input and tokenizer
(:func:`matching_side_file`); otherwise it tokenizes the shard as usual. The side file costs 4
bytes per token of disk (about the size of the token shards).

Between counting and writing, the mixer keeps each input shard's ids in a spill file
(:class:`IdSpillWriter`, same layout, no metadata) rather than in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hanforge.atomic import atomic_path
from hanforge.errors import ShardError

SIDE_DIR = "token-ids"
IDS_SCHEMA = pa.schema([pa.field("ids", pa.large_list(pa.uint32()))])
_META_KEY = b"hanforge.token_ids"
_VERSION = 1


def ids_array(values: np.ndarray, lengths: np.ndarray) -> pa.LargeListArray:
    """A ``large_list<uint32>`` array of the documents in (flat ids, ids per document)."""
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(np.asarray(values, np.uint32), pa.uint32()))


def flat_ids(ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids as uint32, ids per document as int64) of a ``large_list<uint32>`` (slices and all)."""
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    values = [c.flatten().to_numpy(zero_copy_only=False) for c in chunks]
    lengths = [np.diff(c.offsets.to_numpy()) for c in chunks]
    if not chunks:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    return np.concatenate(values).astype(np.uint32, copy=False), np.concatenate(lengths).astype(np.int64)


def side_file_for(shard: str | Path) -> Path | None:
    """Where the side file of ``shard`` lives (``<folder>/token-ids/<name>.arrow`` for a shard in
    ``<folder>/shards/``), or None for a shard outside a ``shards/`` folder."""
    shard = Path(shard)
    if shard.parent.name != "shards":
        return None
    return shard.parent.parent / SIDE_DIR / f"{shard.stem}.arrow"


class IdSpillWriter:
    """Appends the ids of consecutive batches of one shard's documents to an Arrow IPC file."""

    def __init__(self, path: str | Path):
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._sink, IDS_SCHEMA)

    def write(self, values: np.ndarray, lengths: np.ndarray) -> None:
        self._writer.write_batch(pa.record_batch([ids_array(values, lengths)], schema=IDS_SCHEMA))

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def read_ids(path: str | Path) -> pa.ChunkedArray:
    """The ``ids`` column of a spill or side file (memory-mapped, zero-copy)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all().column("ids")


def write_side_file(
    path: str | Path,
    chunks: Iterable[pa.Array | pa.ChunkedArray],
    *,
    shard_fingerprint: str,
    tokenizer_fingerprint: str,
    text_column: str,
    num_docs: int,
) -> None:
    """Write the side file of a shard (atomically) from its rows' ids, in row order."""
    meta = {
        "version": _VERSION,
        "shard_fingerprint": shard_fingerprint,
        "tokenizer_fingerprint": tokenizer_fingerprint,
        "text_column": text_column,
        "num_docs": num_docs,
    }
    schema = IDS_SCHEMA.with_metadata({_META_KEY: json.dumps(meta, sort_keys=True).encode()})
    written = 0
    with atomic_path(path) as tmp, pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for chunk in chunks:
            for array in chunk.chunks if isinstance(chunk, pa.ChunkedArray) else [chunk]:
                writer.write_batch(pa.record_batch([array], schema=schema))
                written += len(array)
        if written != num_docs:
            raise ShardError(f"{path}: {written} rows of ids for {num_docs} documents")


def side_file_meta(path: str | Path) -> dict[str, Any] | None:
    """The metadata of a side file, or None when it is missing or unreadable."""
    try:
        schema = pa.ipc.open_file(pa.memory_map(str(path))).schema
        meta = json.loads(schema.metadata[_META_KEY])
    except (OSError, ValueError, KeyError, TypeError):  # pa.ArrowInvalid is a ValueError
        return None
    return meta if isinstance(meta, dict) and schema.remove_metadata() == IDS_SCHEMA else None


def matching_side_file(
    shard: str | Path, *, shard_fingerprint: str, tokenizer_fingerprint: str, text_column: str
) -> Path | None:
    """The side file of ``shard`` if it holds the ids of exactly this shard's ``text_column`` with
    this tokenizer (fingerprints and row count all match); else None (tokenize the shard)."""
    path = side_file_for(shard)
    if path is None or not path.is_file():
        return None
    meta = side_file_meta(path)
    try:
        num_docs = pq.ParquetFile(shard).metadata.num_rows
    except (OSError, ValueError):  # unreadable: tokenizing it reports the error
        return None
    expected = {
        "version": _VERSION,
        "shard_fingerprint": shard_fingerprint,
        "tokenizer_fingerprint": tokenizer_fingerprint,
        "text_column": text_column,
        "num_docs": num_docs,
    }
    return path if meta == expected else None
