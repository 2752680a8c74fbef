"""Plain-text reader: one ``.txt`` file -> one text document (``_format="text"``).

The bytes are decoded here (BOM, UTF-8, detection, CP949; see :mod:`hanforge.corpus.decode`)
and the codec is stored in ``charset``; undecodable or binary files are dropped with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from datatrove.data import Document

from hanforge.corpus.decode import DecodeError, decode_text_bytes
from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import make_document, mark_ingest_drop
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.shards import document_keys as keys


def read_text_file(file: InputFile, fh, *, size: int, config: IngestConfig) -> Iterator[Document]:
    """Yield the one document of a text file opened as binary ``fh`` of ``size`` bytes."""
    doc = make_document(file, text="", offset=0, scratch={keys.FORMAT: keys.FORMAT_TEXT})
    if size > config.max_doc_bytes:
        yield mark_ingest_drop(doc, "too_large")
        return
    raw = fh.read(config.max_doc_bytes + 1)
    if len(raw) > config.max_doc_bytes:
        yield mark_ingest_drop(doc, "too_large")
        return
    try:
        text, charset = decode_text_bytes(raw)
    except DecodeError as exc:
        yield mark_ingest_drop(doc, exc.reason)
        return
    doc.text = text
    doc.metadata["charset"] = charset
    yield doc
