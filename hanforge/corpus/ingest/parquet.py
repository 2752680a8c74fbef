"""Parquet reader: one row -> one text document (``_format="text"``).

Reads only the text column (``text_field``) and, when the file has them, ``url_field`` and
``id_field``, in record batches. A row's offset (for its id) is its row index in the file.
Rows without a string text are dropped as ``missing_text_field``, texts over ``max_doc_bytes``
as ``too_large``. A file that is not valid Parquet becomes one ``read_error:corrupt_parquet``
drop; a file without the text column one ``missing_text_column`` drop (its row count is added
to ``parquet/rows_without_text_column``); damage met mid-file ends it with one
``read_error:...`` drop at the first unread row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, read_error_reason
from hanforge.corpus.ingest.jsonl import _row_document
from hanforge.corpus.ingest.options import IngestConfig

BATCH_ROWS = 1024


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
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            for row in batch.to_pylist():
                yield _row_document(file, row, offset=row_index, config=config)
                row_index += 1
    except (pa.ArrowException, OSError) as exc:
        reason = "read_error:corrupt_parquet" if isinstance(exc, pa.ArrowInvalid) else read_error_reason(exc)
        yield drop_placeholder(file, reason=reason, offset=row_index)
