"""HTML file reader: one ``.html``/``.htm``/``.xhtml`` file -> one raw-HTML document.

The document carries the file's bytes in ``_raw`` (``_format="html"``); the ``decode`` step
finds the charset (BOM, ``<meta>``, detection) and drops binary junk as ``binary_content``.
There is no HTTP header, URL or fetch date. The size limit is checked before reading.
"""

from __future__ import annotations

from collections.abc import Iterator

from datatrove.data import Document

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import make_document, mark_ingest_drop
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.shards import document_keys as keys


def read_html_file(file: InputFile, fh, *, size: int, config: IngestConfig) -> Iterator[Document]:
    """Yield the one document of an HTML file opened as binary ``fh`` of ``size`` bytes."""
    scratch = {
        keys.FORMAT: keys.FORMAT_HTML,
        keys.HTTP_HEADERS: {},
        keys.HTTP_CHARSET: None,
        keys.CONTENT_TYPE: None,
        keys.WARC_LANG: None,
    }
    doc = make_document(file, text="", offset=0, scratch=scratch)
    if size > config.max_doc_bytes:
        yield mark_ingest_drop(doc, "too_large")
        return
    raw = fh.read(config.max_doc_bytes + 1)
    if len(raw) > config.max_doc_bytes:  # the file grew, or size was unknown
        yield mark_ingest_drop(doc, "too_large")
        return
    doc.metadata[keys.RAW] = raw
    yield doc
