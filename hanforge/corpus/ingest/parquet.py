"""Parquet reader: one row -> one text document (``_format="text"``).

Reads only the text column (``text_field``) and, when the file has them, ``url_field`` and
``id_field``, in record batches sized from the footer (about BATCH_BYTES of text each); texts
over ``max_doc_bytes`` are found with Arrow compute and nulled before the batch becomes Python
objects. Once the row groups' uncompressed sizes add up to more than ``max_file_bytes``, the
rest of the file becomes one ``file_too_large`` drop. A row's offset (for its id) is its row index in the file.
Rows without a string text are dropped as ``missing_text_field``, texts over ``max_doc_bytes``
as ``too_large``. A file that is not valid Parquet becomes one ``read_error:corrupt_parquet``
drop; a file without the text column one ``missing_text_column`` drop (its row count is added
to ``parquet/rows_without_text_column``); damage met mid-file ends it with one
``read_error:...`` drop at the first unread row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, mark_ingest_drop, read_error_reason
from hanforge.corpus.ingest.jsonl import _row_document
from hanforge.corpus.ingest.options import IngestConfig

BATCH_ROWS = 1024
#: Text bytes (uncompressed, from the footer) aimed at per batch: a row group of 15 MB texts is
#: read a row at a time, and a text over max_doc_bytes is dropped before it becomes a Python str.
BATCH_BYTES = 16 << 20


def read_parquet(file: InputFile, fh, *, config: IngestConfig, stat: Callable[..., None]) -> Iterator[Document]:
    """Yield the documents of a Parquet file opened as binary ``fh``."""
    try:
        parquet = pq.ParquetFile(fh)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        reason = "read_error:corrupt_parquet" if isinstance(exc, pa.ArrowInvalid) else read_error_reason(exc)
        yield drop_placeholder(file, reason=reason, offset=0)
        return
    names = set(parquet.schema_arrow.names)
    if config.text_field not in names:
        stat("parquet/rows_without_text_column", value=parquet.metadata.num_rows)
        yield drop_placeholder(file, reason="missing_text_column", offset=0)
        return
    wanted = (config.url_field, config.id_field, config.record_id_field)
    columns = [config.text_field] + sorted({c for c in wanted if c and c in names and c != config.text_field})
    row_index = 0
    num_bytes = 0
    try:
        for group in range(parquet.metadata.num_row_groups):
            meta = parquet.metadata.row_group(group)
            num_bytes += meta.total_byte_size
            if num_bytes > config.max_file_bytes:
                stat("parquet/rows_not_read", value=parquet.metadata.num_rows - row_index)
                yield drop_placeholder(file, reason="file_too_large", offset=row_index)
                return
            for batch in parquet.iter_batches(
                batch_size=_batch_rows(meta, config.text_field), row_groups=[group], columns=columns, use_threads=False
            ):
                batch, too_large = _without_large_texts(batch, config.text_field, config.max_doc_bytes)
                for i, row in enumerate(batch.to_pylist()):
                    doc = _row_document(file, row, offset=row_index, config=config)
                    yield mark_ingest_drop(doc, "too_large") if i in too_large else doc
                    row_index += 1
    except (pa.ArrowException, OSError) as exc:
        reason = "read_error:corrupt_parquet" if isinstance(exc, pa.ArrowInvalid) else read_error_reason(exc)
        yield drop_placeholder(file, reason=reason, offset=row_index)


def _batch_rows(meta: pq.RowGroupMetaData, text_field: str) -> int:
    """Rows per batch so that one batch holds about BATCH_BYTES of text (from the footer's sizes).

    A dictionary-encoded text column says nothing about its rows' sizes (100 rows repeating
    one 15 MB text take 15 MB in the file), so any row may be as large as the whole chunk.
    """
    chunks = [meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == text_field]
    text_bytes = sum(c.total_uncompressed_size for c in chunks)
    per_row = text_bytes if any(c.has_dictionary_page for c in chunks) else text_bytes / max(meta.num_rows, 1)
    return max(1, min(BATCH_ROWS, int(BATCH_BYTES // max(per_row, 1.0))))


def _is_text(tp: pa.DataType) -> bool:
    return pa.types.is_string(tp) or pa.types.is_large_string(tp)


def _without_large_texts(batch: pa.RecordBatch, text_field: str, limit: int) -> tuple[pa.RecordBatch, set[int]]:
    """``batch`` with texts over ``limit`` bytes nulled in Arrow (never made Python strings)."""
    column = batch.column(text_field)
    if pa.types.is_dictionary(column.type) and _is_text(column.type.value_type):
        # a dictionary column: measure each distinct text once, never decode the repeats
        over_values = pc.greater(pc.binary_length(column.dictionary), limit)
        over = pc.fill_null(pc.take(over_values, column.indices), False)
        if not pc.any(over).as_py():
            return batch, set()
        nulled = pa.DictionaryArray.from_arrays(
            pc.if_else(over, pa.scalar(None, column.indices.type), column.indices), column.dictionary
        )
    elif _is_text(column.type):
        over = pc.fill_null(pc.greater(pc.binary_length(column), limit), False)
        if not pc.any(over).as_py():
            return batch, set()
        nulled = pc.if_else(over, pa.scalar(None, column.type), column)
    else:
        return batch, set()
    indices = set(pc.indices_nonzero(over).to_pylist())
    return batch.set_column(batch.schema.get_field_index(text_field), text_field, nulled), indices
