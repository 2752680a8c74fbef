"""JSONL reader (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``): one JSON object per line -> one document.

The text comes from ``text_field``; ``url_field`` and ``id_field`` are used when present, and the
record's own id (``record_id_field``, default ``id``) is always kept in the ``input_id`` column. The
offset of a line (for its id) is its byte offset in the uncompressed stream. Lines are read
with a length limit, so a line over ``max_doc_bytes`` is skipped in chunks and dropped as
``too_large`` without being held in memory. A bad line is dropped with a reason and the next
line is read: ``invalid_utf8``, ``invalid_json`` (also: not an object), ``missing_text_field``
(absent or not a string). Blank lines are not documents (counted as ``jsonl/blank_lines``).
A damaged compressed stream ends the file with one ``read_error:...`` drop
(``read_error:truncated`` for a gzip/zstd stream cut short).
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator

import zstandard
from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, make_document, mark_ingest_drop, read_error_reason
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.shards import document_keys as keys
from hanforge.shards.text_writer import replace_surrogates

_SKIP_CHUNK = 1 << 20
#: Compressed bytes fed to the zstd decompressor per call: zstd inflates at most ~32,000x
#: (RLE blocks), so one call yields at most ~16 MiB however the file was crafted.
_ZSTD_FEED = 512
_WHITESPACE_BYTES = b" \t\n\r\x0b\x0c"  # what bytes.strip() removes
_WHITESPACE = re.compile(rb"[ \t\n\r\x0b\x0c]*")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _row_document(file: InputFile, row: dict, *, offset: int, config: IngestConfig) -> Document:
    """A document from one JSON object / Parquet row (a ``missing_text_field`` drop if no text)."""
    url = row.get(config.url_field) if config.url_field else None
    url = url if isinstance(url, str) and url else None
    given_id = row.get(config.id_field) if config.id_field else None
    doc = make_document(
        file,
        text="",
        offset=offset,
        url=url,
        doc_id=str(given_id) if given_id not in (None, "") else None,
        scratch={keys.FORMAT: keys.FORMAT_TEXT},
    )
    record_id = row.get(config.record_id_field) if config.record_id_field else None
    if record_id is not None:
        doc.metadata["input_id"] = str(record_id)
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
        self._input = b""
        self._used = 0  # bytes of _input already fed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            if self._used >= len(self._input) and not (self._decomp.eof and self._decomp.unused_data):
                self._input, self._used = self._fh.read(_SKIP_CHUNK), 0
                if not self._input:
                    if self._fed and not self._decomp.eof:
                        raise EOFError("zstd stream ends inside a frame")
                    return 0
            self._feed()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self) -> None:
        """Decompress the next few hundred input bytes (bounded output, see ``_ZSTD_FEED``)."""
        if self._decomp.eof:  # next frame
            leftover = self._decomp.unused_data
            self._decomp = zstandard.ZstdDecompressor().decompressobj()
            if leftover:
                self._pending = self._decomp.decompress(leftover)
                self._fed = True
                return
        piece = self._input[self._used : self._used + _ZSTD_FEED]
        self._used += len(piece)
        self._pending = self._decomp.decompress(piece)
        self._fed = True


def open_decompressed(file: InputFile, fh) -> io.BufferedIOBase:
    """``fh`` (the file's raw bytes) as a readable uncompressed stream, by the file's ending."""
    name = file.relpath.lower()
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="rb")
    if name.endswith(".zst"):
        return io.BufferedReader(ZstdFrames(fh))
    return fh


def iter_lines(fh, *, limit: int, max_total: int) -> Iterator[tuple[int, str, int | bytes]]:
    """``(offset, kind, value)`` for each line of the binary stream ``fh``, reading 1 MiB at a time.

    kind ``"line"``: value is the line (with its newline, at most ``limit`` bytes); ``"blank"``:
    value is the number of consecutive whitespace-only lines (skipped in bulk, so 100 MB of
    newlines costs a few regex scans, not 100 million Python iterations); ``"too_large"``: a
    line over ``limit`` bytes, skipped without being held; ``"file_too_large"``: more than
    ``max_total`` bytes were read, the rest of the file is not.
    """
    buf = b""
    pos = 0
    base = 0  # offset of buf[0] in the stream
    total = 0

    read = getattr(fh, "read1", fh.read)  # read1: what decompressed so far, before any error

    def more() -> bytes:
        nonlocal total
        chunk = read(_SKIP_CHUNK)
        total += len(chunk)
        return chunk

    while True:
        if total > max_total:
            yield base + pos, "file_too_large", 0
            return
        if pos == len(buf):
            base += len(buf)
            buf, pos = more(), 0
            if not buf:
                return
        end = _WHITESPACE.match(buf, pos, pos + 4096).end()
        if end == pos + 4096:  # a long blank run: strip it in C
            end = len(buf) - len(buf[pos:].lstrip(_WHITESPACE_BYTES))
        last_newline = buf.rfind(b"\n", pos, end)
        if last_newline >= 0:
            yield base + pos, "blank", buf.count(b"\n", pos, last_newline + 1)
            pos = last_newline + 1
            continue
        newline = buf.find(b"\n", pos)
        if newline >= 0 and newline + 1 - pos <= limit:
            yield base + pos, "line", buf[pos : newline + 1]
            pos = newline + 1
            continue
        if newline < 0 and len(buf) - pos <= limit:
            chunk = more()
            if chunk:
                base += pos
                buf, pos = buf[pos:] + chunk, 0
                continue
            rest = buf[pos:]
            yield base + pos, ("line" if rest.strip() else "blank"), (rest if rest.strip() else 1)
            return
        yield base + pos, "too_large", 0
        while newline < 0:  # skip to the end of the long line, a chunk at a time
            base += len(buf)
            buf, pos = more(), 0
            if not buf or total > max_total:
                break
            newline = buf.find(b"\n")
        pos = newline + 1 if newline >= 0 else len(buf)


def read_jsonl(file: InputFile, fh, *, config: IngestConfig, stat: Callable[..., None]) -> Iterator[Document]:
    """Yield the documents of a JSONL file opened as binary ``fh`` (compressed or not)."""
    fh = open_decompressed(file, fh)
    lines = iter_lines(fh, limit=config.max_doc_bytes, max_total=config.max_file_bytes)
    offset = 0
    while True:
        try:
            start, kind, value = next(lines)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 -- damaged compressed stream: count, end the file
            yield drop_placeholder(file, reason=read_error_reason(exc), offset=offset)
            return
        offset = start
        if kind == "blank":
            stat("jsonl/blank_lines", value=value)
            continue
        if kind != "line":
            yield _line_drop(file, start, kind)
            if kind == "file_too_large":
                return
            continue
        line = value[3:] if start == 0 and value.startswith(codecs.BOM_UTF8) else value
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
        if _ESCAPED_SURROGATE.search(line):  # JSON escapes can spell lone surrogates
            row, repaired = _without_surrogates(row, config)
            if repaired:
                stat("jsonl/surrogates_replaced")
        yield _row_document(file, row, offset=start, config=config)


def _without_surrogates(row: dict, config: IngestConfig) -> tuple[dict, bool]:
    """``row`` with lone surrogates in the text, url and id fields replaced by U+FFFD."""
    fields = [f for f in (config.text_field, config.url_field, config.id_field) if f and f in row]
    fixed = {f: replace_surrogates(row[f]) for f in fields}
    if all(fixed[f] == row[f] for f in fields):
        return row, False
    return {**row, **fixed}, True


def _line_drop(file: InputFile, offset: int, reason: str) -> Document:
    return mark_ingest_drop(
        make_document(file, text="", offset=offset, scratch={keys.FORMAT: keys.FORMAT_TEXT}), reason
    )
