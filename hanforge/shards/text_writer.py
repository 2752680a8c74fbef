"""Atomic, size-rotated Parquet writers for text shards.

:class:`TextShardWriter` is the plain writer (rows or Arrow tables in, ``{prefix}-{NNNNN}.parquet``
out); :class:`ShardWriterStep` is the datatrove step that ends every corpus pipeline, sending
kept documents to ``<output>/shards/`` and dropped ones to ``<output>/excluded/``.

A row Arrow cannot encode (a string holding a lone UTF-16 surrogate such as ``"\\udfff"``, which
JSON escapes can produce) is made writable, never a crash: its lone surrogates become U+FFFD
and the row is counted in ``num_repaired_rows`` (the step's ``repaired_rows`` counter).

Each shard is written under a temporary name and renamed only once its Parquet footer is
written, so a killed run never leaves a shard that looks complete. Names depend only on the
task rank and a counter, so a rerun of a task overwrites exactly its own shards.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from hanforge.atomic import TMP_MARKER
from hanforge.errors import ShardError
from hanforge.shards.document_keys import DROP_REASON, UnknownMetadataWarning, unknown_keys
from hanforge.shards.text_schema import METADATA_COLUMNS, TEXT_SHARD_SCHEMA

DEFAULT_MAX_SHARD_BYTES = 256 << 20
_ROWS_PER_GROUP = 2048
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(value: Any) -> Any:
    """``value`` with every UTF-16 surrogate code point in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_surrogates(v) for v in value]
    return value


class TextShardWriter:
    """Write rows conforming to TEXT_SHARD_SCHEMA into size-rotated zstd Parquet shards.

    ``max_bytes`` bounds the uncompressed text bytes per shard (rotation happens between row
    groups). Call :meth:`close` to finish the open shard; it returns the final shard paths.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        prefix: str,
        max_bytes: int = DEFAULT_MAX_SHARD_BYTES,
        schema: pa.Schema = TEXT_SHARD_SCHEMA,
    ) -> None:
        if max_bytes <= 0:
            raise ShardError(f"max_bytes must be positive, got {max_bytes}")
        self.folder = Path(folder)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.schema = schema
        self.paths: list[str] = []
        self.num_rows = 0
        self.num_repaired_rows = 0
        self._buffer: list[dict[str, Any]] = []
        self._buffer_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._shard_bytes = 0

    # -- public API -------------------------------------------------------------------------
    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        """Buffer ``rows`` (dicts keyed by column name; missing columns become null)."""
        for row in rows:
            self._buffer.append(row)
            self._buffer_bytes += len(row.get("text") or "")
            if len(self._buffer) >= _ROWS_PER_GROUP or self._buffer_bytes >= (4 << 20):
                self._flush()

    def write_table(self, table: pa.Table) -> None:
        """Write an Arrow table (columns matched by name, cast to the schema)."""
        self._flush()
        table = conform_table(table, self.schema)
        for batch in table.to_batches(max_chunksize=_ROWS_PER_GROUP):
            self._write_batch(
                pa.Table.from_batches([batch], schema=self.schema),
                sum(len(t or "") for t in batch.column("text").to_pylist()),
            )

    def close(self) -> list[str]:
        """Flush, finish the open shard and return all final shard paths."""
        self._flush()
        self._finish_shard()
        return list(self.paths)

    # -- internals -------------------------------------------------------------------------
    def _flush(self) -> None:
        if not self._buffer:
            return
        columns = {f.name: [row.get(f.name) for row in self._buffer] for f in self.schema}
        try:
            table = pa.Table.from_pydict(columns, schema=self.schema)
        except UnicodeEncodeError:  # rare: repair only the rows that need it, then retry
            self._repair_buffer()
            columns = {f.name: [row.get(f.name) for row in self._buffer] for f in self.schema}
            table = pa.Table.from_pydict(columns, schema=self.schema)
        nbytes = self._buffer_bytes
        self._buffer, self._buffer_bytes = [], 0
        self._write_batch(table, nbytes)

    def _repair_buffer(self) -> None:
        for i, row in enumerate(self._buffer):
            repaired = {k: replace_surrogates(v) for k, v in row.items()}
            if repaired != row:
                self._buffer[i] = repaired
                self.num_repaired_rows += 1

    def _write_batch(self, table: pa.Table, nbytes: int) -> None:
        if self._writer is not None and self._shard_bytes + nbytes > self.max_bytes and self._shard_bytes > 0:
            self._finish_shard()
        if self._writer is None:
            self._final = self.folder / f"{self.prefix}-{len(self.paths):05d}.parquet"
            self._tmp = self._final.with_name(f"{self._final.name}{TMP_MARKER}{os.getpid()}")
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self._tmp, self.schema, compression="zstd", write_statistics=True, store_schema=True
            )
            self._shard_bytes = 0
        self._writer.write_table(table)
        self._shard_bytes += nbytes
        self.num_rows += table.num_rows

    def _finish_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._tmp.replace(self._final)
        self.paths.append(str(self._final))
        self._writer = self._tmp = self._final = None


def conform_table(table: pa.Table, schema: pa.Schema = TEXT_SHARD_SCHEMA) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema`` (missing nullable columns become null)."""
    arrays = []
    for field in schema:
        if field.name in table.column_names:
            arrays.append(table.column(field.name).cast(field.type))
        elif field.nullable:
            arrays.append(pa.nulls(table.num_rows, field.type))
        else:
            raise ShardError(f"table lacks required column {field.name!r}")
    return pa.Table.from_arrays(arrays, schema=schema)


def document_row(doc: Document) -> dict[str, Any]:
    """The shard row of a document: id, text and every schema column found in its metadata.

    Scratch keys (``_raw``, ...) are not written; other keys that are no column are reported by
    :class:`ShardWriterStep` (see :mod:`hanforge.shards.document_keys`).
    """
    meta = doc.metadata
    row = {name: meta.get(name) for name in METADATA_COLUMNS}
    row["id"] = doc.id
    row["text"] = doc.text or ""
    row["num_chars"] = len(row["text"])
    if row["source"] is None:
        row["source"] = ""
    return row


class ShardWriterStep(PipelineStep):
    """Last step of a corpus pipeline: kept docs → ``shards/``, dropped → ``excluded/``.

    Shard names are ``{rank:05d}-{NNNNN}.parquet``; stats count ``kept``, ``excluded`` and
    ``excluded/<reason>`` so ``kept + excluded`` equals what the reader produced. A metadata key
    that is no column and no scratch is counted as ``unknown_metadata/<key>`` and warned about
    once per task (:class:`UnknownMetadataWarning`; an error under pytest's warning filters).
    """

    type = "hanforge"
    name = "writer"

    def __init__(self, output: str | Path, *, max_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> None:
        super().__init__()
        self.output = Path(output)
        self.max_bytes = max_bytes

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        kept = TextShardWriter(self.output / "shards", prefix=f"{rank:05d}", max_bytes=self.max_bytes)
        excluded = TextShardWriter(self.output / "excluded", prefix=f"{rank:05d}", max_bytes=self.max_bytes)
        warned: set[str] = set()
        for doc in data:
            for key in unknown_keys(doc.metadata):
                self.stat_update("unknown_metadata", f"unknown_metadata/{key}")
                if key not in warned:
                    warned.add(key)
                    warnings.warn(
                        f"document metadata key {key!r} is no text-shard column and is not written "
                        "(a typo in a step's signal name?)",
                        UnknownMetadataWarning,
                        stacklevel=2,
                    )
            row = document_row(doc)
            if row[DROP_REASON] is None:
                kept.write_rows([row])
                self.stat_update("kept")
                self.stat_update("kept_chars", value=row["num_chars"])
            else:
                excluded.write_rows([row])
                self.stat_update("excluded", f"excluded/{row[DROP_REASON]}")
        kept.close()
        excluded.close()
        if kept.num_repaired_rows or excluded.num_repaired_rows:
            self.stat_update("repaired_rows", value=kept.num_repaired_rows + excluded.num_repaired_rows)
        return
        yield  # a generator that consumes the stream and yields nothing
