"""WARC / WARC.gz reader: response records -> raw-HTML documents, damaged regions -> drops.

Parsing uses FastWARC: on a WARC built from the 2,560 LibreOffice pages it read the response
payloads 2.4-5.2x faster than warcio for .warc.gz and 6.7-12.7x faster for plain .warc
(``bench/hangul_precheck.py``; figures in ``bench/results/hangul_precheck.md``).

Each response record becomes a document with ``_format="html"``, the payload in ``_raw``, the
HTTP headers in ``_http_headers``, ``_http_charset``, ``_content_type`` and ``_warc_lang``
(WARC-Identified-Content-Language), plus ``url`` (WARC-Target-URI) and ``fetch_date``
(WARC-Date, UTC). Its offset (for the id) is the record's byte offset in the file. Other record
types (request, metadata, warcinfo, ...) are not documents and only counted.

A record whose WARC-Type line is damaged (FastWARC's ``unknown`` type) becomes a
``read_error:unknown_record_type`` drop rather than a silently skipped record; a record whose
Content-Length is not a number is a malformed record (one drop for the damaged region, then
resync). Once the records' Content-Lengths add up to more than ``max_file_bytes``, the rest of
the file becomes one ``file_too_large`` drop.

Records are dropped (placeholders with ``text=""``) as ``too_large`` (payload over
``max_doc_bytes``, never read), ``http_status:<code>`` (not 2xx), ``unsupported_content_type``
(not HTML/XHTML), ``read_error:truncated_record`` (payload shorter than announced) and, with
``korean_only_warc``, ``not_korean_precheck``.

FastWARC neither resynchronises after a malformed record nor reports a truncated gzip stream
(it stops quietly), so this module does both (hand-written: no WARC library offers it):

* A malformed record raises inside the iterator. We then search forward from just after the
  last good record for the next plausible record start (a gzip member header in .warc.gz, a
  ``WARC/1.`` line in .warc), check that a record parses there, and restart the iterator at
  that offset. The skipped region becomes one ``read_error:malformed_record`` drop; its size
  is counted in ``warc/bytes_skipped``.
* A record whose payload is shorter than its Content-Length (``read_error:truncated_record``)
  may have swallowed the records after it (a corrupt length); the same forward search looks
  for them before the file is given up.
* After the last record of a .warc.gz, the gzip members from that record to the end of the
  file are decompressed once more (just the tail, usually one member) to check that the file
  ends with a complete member; if not, a ``read_error:truncated_gzip`` drop is added.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from datatrove.data import Document
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from hanforge.corpus.hangul_precheck import NOT_KOREAN_PRECHECK, korean_precheck, warc_language_allows
from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, make_document, mark_ingest_drop
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.shards import document_keys as keys

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/1."
HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})
_CHUNK = 1 << 20
TRUNCATED_RECORD = "read_error:truncated_record"

StatUpdate = Callable[..., None]


def parse_warc_date(value: str | None) -> datetime | None:
    """WARC-Date (ISO 8601, usually ``...Z``) as a timezone-aware UTC datetime, or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _find_next(fh, start: int, magic: bytes, *, line_start: bool) -> int | None:
    """Offset of the next ``magic`` at or after ``start`` (at a line start if asked), or None."""
    pos = start
    carry = b""
    while True:
        fh.seek(pos)
        chunk = fh.read(_CHUNK)
        if not chunk:
            return None
        data = carry + chunk
        base = pos - len(carry)
        search_from = 0
        while True:
            hit = data.find(magic, search_from)
            if hit < 0:
                break
            absolute = base + hit
            if absolute >= start and (not line_start or absolute == 0 or (hit > 0 and data[hit - 1] == 0x0A)):
                return absolute
            search_from = hit + 1
        carry = data[-(len(magic) + 1) :]
        pos += len(chunk)


def _parses_at(fh, offset: int) -> bool:
    """Whether a WARC record parses at ``offset``."""
    fh.seek(offset)
    try:
        record = next(iter(ArchiveIterator(fh, parse_http=False)))
    except StopIteration:
        return False
    except Exception:  # noqa: BLE001 -- any parse failure means "not a record start"
        return False
    return record.headers.get("Content-Length") is not None


def resync_offset(fh, *, after: int, gzipped: bool) -> int | None:
    """The first offset after ``after`` where a WARC record parses (None: none left)."""
    magic = GZIP_MAGIC if gzipped else WARC_MAGIC
    candidate = _find_next(fh, after, magic, line_start=not gzipped)
    while candidate is not None:
        if _parses_at(fh, candidate):
            return candidate
        candidate = _find_next(fh, candidate + 1, magic, line_start=not gzipped)
    return None


def gzip_tail_problem(fh, start: int) -> str | None:
    """Check the gzip members from ``start`` to the end of the file; a problem name or None.

    ``start`` should be a member start (the last record's offset); if it is not (one gzip
    stream for the whole file), the whole file is checked.
    """
    fh.seek(start)
    if fh.read(2) != GZIP_MAGIC[:2]:
        start = 0
    fh.seek(start)
    decomp = zlib.decompressobj(wbits=31)
    fed = False
    while chunk := fh.read(_CHUNK):
        data = chunk
        while data:
            try:  # output is discarded, at most _CHUNK bytes at a time (a bomb costs time, not memory)
                decomp.decompress(data, _CHUNK)
                while decomp.unconsumed_tail:
                    decomp.decompress(decomp.unconsumed_tail, _CHUNK)
            except zlib.error:
                return "corrupt_gzip"
            fed = True
            if decomp.eof:
                data = decomp.unused_data
                decomp = zlib.decompressobj(wbits=31)
                fed = False
                if data and not data.lstrip(b"\x00"):  # zero padding after the last member
                    data = b""
            else:
                data = b""
    if fed and not decomp.eof:
        return "truncated_gzip"
    return None


def _record_document(file: InputFile, record: WarcRecord, *, config: IngestConfig, stat: StatUpdate) -> Document:
    """One response record -> a document (or a drop placeholder with the record's own id)."""
    headers = record.headers
    url = headers.get("WARC-Target-URI")
    offset = record.stream_pos
    fetch_date = parse_warc_date(headers.get("WARC-Date"))
    warc_lang = headers.get("WARC-Identified-Content-Language")
    http = record.http_headers if record.is_http else None
    content_type = record.http_content_type if http is not None else None
    scratch = {
        keys.FORMAT: keys.FORMAT_HTML,
        keys.HTTP_HEADERS: dict(http.items()) if http is not None else {},
        keys.HTTP_CHARSET: record.http_charset if http is not None else None,
        keys.CONTENT_TYPE: content_type,
        keys.WARC_LANG: warc_lang,
    }
    doc = make_document(file, text="", offset=offset, url=url, fetch_date=fetch_date, scratch=scratch)
    status = http.status_code if http is not None else None
    if status is not None and not 200 <= status < 300:
        return mark_ingest_drop(doc, f"http_status:{status}")
    if content_type and content_type.lower() not in HTML_CONTENT_TYPES:
        stat(f"warc/content_type/{content_type.lower()}")
        return mark_ingest_drop(doc, "unsupported_content_type")
    length = record.content_length
    if length > config.max_doc_bytes:
        return mark_ingest_drop(doc, "too_large")
    if config.korean_only_warc and not warc_language_allows(warc_lang):
        stat("warc/precheck_by_language")
        return mark_ingest_drop(doc, NOT_KOREAN_PRECHECK)
    raw = record.reader.read(config.max_doc_bytes + 1)
    if len(raw) < length:
        return mark_ingest_drop(doc, TRUNCATED_RECORD)
    if config.korean_only_warc and not korean_precheck(
        raw, warc_lang=warc_lang, min_ratio=config.precheck_min_ratio, use_warc_language=True
    ):
        return mark_ingest_drop(doc, NOT_KOREAN_PRECHECK)
    doc.metadata[keys.RAW] = raw
    return doc


def _check_header(record) -> None:
    """Raise ValueError (the reader resyncs after it) for a record whose header is cut short or
    whose Content-Length is not a number."""
    declared = record.headers.get("Content-Length")
    if declared is None:  # header cut short (FastWARC yields it)
        raise ValueError(f"record at {record.stream_pos} has an incomplete header")
    if not declared.strip().isdigit():  # FastWARC reads "abc3306" as a length: resync
        raise ValueError(f"record at {record.stream_pos} has Content-Length {declared!r}")


def read_warc(file: InputFile, fh, *, config: IngestConfig, stat: StatUpdate) -> Iterator[Document]:
    """Yield the documents (and drop placeholders) of one WARC file opened as binary ``fh``."""
    fh.seek(0)
    gzipped = fh.read(2) == GZIP_MAGIC[:2]
    position = 0
    last_record: int | None = None  # offset of the last record parsed successfully
    num_bytes = 0  # record bytes announced so far (the per-file cap)
    while True:
        fh.seek(position)
        failed: Exception | None = None
        overran = False  # a record announced more bytes than followed: it may have swallowed others
        try:
            for record in ArchiveIterator(fh, record_types=WarcRecordType.any_type, parse_http=True):
                _check_header(record)
                last_record = record.stream_pos
                num_bytes += record.content_length
                if num_bytes > config.max_file_bytes:
                    yield drop_placeholder(file, reason="file_too_large", offset=record.stream_pos)
                    return
                if record.record_type in (WarcRecordType.unknown, WarcRecordType.no_type):  # damaged WARC-Type
                    url = record.headers.get("WARC-Target-URI")
                    yield drop_placeholder(
                        file, reason="read_error:unknown_record_type", offset=record.stream_pos, url=url
                    )
                    continue
                if record.record_type != WarcRecordType.response:
                    stat(f"warc/skipped_records/{record.record_type}")
                    continue
                doc = _record_document(file, record, config=config, stat=stat)
                yield doc
                if doc.metadata.get("drop_reason") == TRUNCATED_RECORD:
                    overran = True
                    break
        except (OSError, ValueError, EOFError) as exc:  # FastWARC's parse errors: resync, go on
            failed = exc
        if failed is None and not overran:
            break
        damage_start = (last_record if last_record is not None else position) + 1
        resume = resync_offset(fh, after=damage_start, gzipped=gzipped)
        if resume is None and overran:
            return  # the short record was the last one: the file was simply cut
        if resume is None and gzipped and gzip_tail_problem(fh, damage_start - 1) == "truncated_gzip":
            yield drop_placeholder(file, reason="read_error:truncated_gzip", offset=damage_start)
            return
        if failed is not None:
            stat(f"warc/errors/{type(failed).__name__}")
            yield drop_placeholder(file, reason="read_error:malformed_record", offset=damage_start)
        end = resume if resume is not None else fh.seek(0, 2)
        stat("warc/resyncs")
        stat("warc/bytes_skipped", value=max(0, end - damage_start))
        if resume is None:
            return
        position = resume
        last_record = None
    if gzipped:
        tail = last_record if last_record is not None else position
        problem = gzip_tail_problem(fh, tail)
        if problem:
            yield drop_placeholder(file, reason=f"read_error:{problem}", offset=tail + 1)


__all__ = ["read_warc", "resync_offset", "gzip_tail_problem", "parse_warc_date"]
