"""Building the documents readers yield: stable ids, metadata columns and drop placeholders.

A document id is the 16-hex-digit blake2b-64 of ``f"{url or source/relpath}\\x00{offset}"``, so
it depends neither on where the input lives nor on how the work is split, and equal relative
paths under two input folders (two sources) do not collide. A *drop placeholder*
stands for input that could not become a document (unreadable file, damaged WARC region,
empty file, ...): ``text=""``, ``drop_step="ingest"`` and a ``drop_reason``, so it is counted
and lands in the excluded shards like every other dropped document.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from datetime import datetime
from typing import Any

import zstandard
from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.steps import DROP_REASON, DROP_STEP
from hanforge.shards import document_keys as keys

INGEST_STEP = "ingest"


def document_id(key: str, offset: int | None = None) -> str:
    """Stable id: blake2b-64 hex of ``f"{key}\\x00{offset or 0}"`` (key = url, else source/relpath,
    so that equal relative paths under two input folders do not collide)."""
    return hashlib.blake2b(f"{key}\x00{offset or 0}".encode(), digest_size=8).hexdigest()


def error_id(file: InputFile, offset: int | None, reason: str = "") -> str:
    """Stable id of a drop placeholder for ``file`` at ``offset`` (never equal to a document id)."""
    key = f"{file.source}/{file.relpath}\x00{offset or 0}\x00error{reason}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def make_document(
    file: InputFile,
    *,
    text: str,
    offset: int | None,
    url: str | None = None,
    fetch_date: datetime | None = None,
    doc_id: str | None = None,
    scratch: dict[str, Any] | None = None,
) -> Document:
    """A document of ``file`` with the reader columns (source, url, path, fetch_date) and scratch
    keys; ``path`` names the input file (relative to its input folder) for every document."""
    metadata: dict[str, Any] = {"source": file.source, "url": url, "path": file.relpath, "fetch_date": fetch_date}
    if scratch:
        metadata.update(scratch)
    key = url or f"{file.source}/{file.relpath}"
    return Document(text=text, id=doc_id or document_id(key, offset), metadata=metadata)


def mark_ingest_drop(doc: Document, reason: str) -> Document:
    """Mark a reader-made document dropped by ``ingest``; its raw bytes are released."""
    doc.text = ""
    doc.metadata.pop(keys.RAW, None)
    doc.metadata[DROP_REASON] = reason
    doc.metadata[DROP_STEP] = INGEST_STEP
    return doc


def drop_placeholder(
    file: InputFile,
    *,
    reason: str,
    offset: int | None = None,
    url: str | None = None,
    fetch_date: datetime | None = None,
    doc_id: str | None = None,
) -> Document:
    """A dropped document standing for input that could not be read (see the module docstring).

    ``doc_id`` defaults to :func:`error_id`; pass the record's own id when the dropped thing is
    a real document (a too large page, a non-Korean WARC record).
    """
    doc = make_document(
        file, text="", offset=offset, url=url, fetch_date=fetch_date, doc_id=doc_id or error_id(file, offset, reason)
    )
    return mark_ingest_drop(doc, reason)


def read_error_reason(exc: BaseException) -> str:
    """``read_error:<what>`` for an exception raised while opening or reading a file."""
    if isinstance(exc, PermissionError):
        what = "permission_denied"
    elif isinstance(exc, IsADirectoryError):
        what = "is_a_directory"
    elif isinstance(exc, FileNotFoundError):
        what = "not_found"
    elif isinstance(exc, EOFError):
        what = "truncated"
    elif isinstance(exc, zlib.error | gzip.BadGzipFile):
        what = "corrupt_gzip"
    elif isinstance(exc, zstandard.ZstdError):
        what = "corrupt_zstd"
    else:
        name = type(exc).__name__
        what = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return f"read_error:{what}"
