"""JSONL reader (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``): one JSON object per line -> one document.

The text comes from ``text_field``; ``url_field`` and ``id_field`` are used when present. The
offset of a line (for its id) is its byte offset in the uncompressed stream. Lines are read
with a length limit, so a line over ``max_doc_bytes`` is skipped in chunks and dropped as
``too_large`` without being held in memory. A bad line is dropped with a reason and the next
line is read: ``invalid_utf8``, ``invalid_json`` (also: not an object), ``missing_text_field``
(absent or not a string). Blank lines are not documents (counted as ``jsonl/blank_lines``).
A damaged compressed stream ends the file with one ``read_error:...`` drop
(``read_error:truncated`` for a gzip/zstd stream cut short).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator

import zstandard
from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, make_document, mark_ingest_drop, read_error_reason
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.shards import document_keys as keys

_SKIP_CHUNK = 1 << 20


def _row_document(file: InputFile, row: dict, *, offset: int, config: IngestConfig) -> Document:
    """A document from one JSON object / Parquet row (a ``missing_text_field`` drop if no text)."""
    url = row.get(config.url_field) if config.url_field else None
    url = url if isinstance(url, str) and url else None
    given_id = row.get(config.id_field) if config.id_field else None
    doc = make_document(file, text="", offset=offset, url=url,
                        doc_id=str(given_id) if given_id not in (None, "") else None,
                        scratch={keys.FORMAT: keys.FORMAT_TEXT})
    text = row.get(config.text_field)
    if not isinstance(text, str):
        return mark_ingest_drop(doc, "missing_text_field")
    if len(text) * 4 > config.max_doc_bytes and len(text.encode("utf-8")) > config.max_doc_bytes:
        return mark_ingest_drop(doc, "too_large")
    doc.text = text
    return doc


class ZstdFrames(io.RawIOBase):
    """Uncompressed bytes of a .zst stream (one or more frames) that notices truncation.

    ``zstandard``'s ``stream_reader`` ends quietly when the input stops mid-frame; this reader
    raises EOFError instead, so a cut .jsonl.zst becomes a counted ``read_error:truncated``.
    """

    def __init__(self, fh):
        super().__init__()
        self._fh = fh
        self._decomp = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._fh.read(_SKIP_CHUNK)
            if not chunk:
                if self._fed and not self._decomp.eof:
                    raise EOFError("zstd stream ends inside a frame")
                return 0
            while chunk:
                if self._decomp.eof:  # next frame
                    self._decomp = zstandard.ZstdDecompressor().decompressobj()
                self._pending += self._decomp.decompress(chunk)
                self._fed = True
                chunk = self._decomp.unused_data if self._decomp.eof else b""
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def open_decompressed(file: InputFile, fh) -> io.BufferedIOBase:
    """``fh`` (the file's raw bytes) as a readable uncompressed stream, by the file's ending."""
    name = file.relpath.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if name.endswith(".zst"):
        return io.BufferedReader(ZstdFrames(fh))
    return fh


def read_jsonl(file: InputFile, fh, *, config: IngestConfig, stat: Callable[..., None]) -> Iterator[Document]:
    """Yield the documents of a JSONL file opened as binary ``fh`` (compressed or not)."""
    fh = open_decompressed(file, fh)
    offset = 0
    limit = config.max_doc_bytes
    while True:
        try:
            line = fh.readline(limit + 1)
        except Exception as exc:  # noqa: BLE001 -- damaged compressed stream: count, end the file
            yield drop_placeholder(file, reason=read_error_reason(exc), offset=offset)
            return
        if not line:
            return
        start = offset
        offset += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            try:
                while (rest := fh.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                    offset += len(rest)
                offset += len(rest)
            except Exception as exc:  # noqa: BLE001
                yield drop_placeholder(file, reason=read_error_reason(exc), offset=offset)
                return
            yield _line_drop(file, start, "too_large")
            continue
        if not line.strip():
            stat("jsonl/blank_lines")
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            yield _line_drop(file, start, "invalid_utf8")
            continue
        try:
            row = json.loads(decoded)
        except json.JSONDecodeError:
            yield _line_drop(file, start, "invalid_json")
            continue
        if not isinstance(row, dict):
            yield _line_drop(file, start, "invalid_json")
            continue
        yield _row_document(file, row, offset=start, config=config)


def _line_drop(file: InputFile, offset: int, reason: str) -> Document:
    return mark_ingest_drop(make_document(file, text="", offset=offset, scratch={keys.FORMAT: keys.FORMAT_TEXT}), reason)
