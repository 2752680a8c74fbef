"""The reader step: input files -> documents, every bad input counted as a dropped document.

:class:`DocumentReader` is the first step of every corpus pipeline. Task ``rank`` of
``world_size`` reads ``files[rank::world_size]`` in order. Whatever goes wrong with one file or
record becomes a drop placeholder (``text=""``, ``drop_step="ingest"``, a ``drop_reason``) and
the run goes on: ``unsupported_file`` (unknown type inside a folder), ``not_a_regular_file``
(a FIFO, socket or device, never opened), ``empty_file``,
``read_error:<what>`` (permission denied, a directory, missing, truncated or corrupt data),
plus the per-format reasons of the readers in this package.

Stats (datatrove ``stat_update``): ``files``, ``documents`` (everything yielded), ``kept``,
``dropped`` and ``dropped/<reason>``, plus reader counters such as ``warc/resyncs``.
"""

from __future__ import annotations

from collections.abc import Iterator

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from fsspec.core import url_to_fs
from loguru import logger

from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.documents import drop_placeholder, read_error_reason
from hanforge.corpus.ingest.html_files import read_html_file
from hanforge.corpus.ingest.jsonl import read_jsonl
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.corpus.ingest.parquet import read_parquet
from hanforge.corpus.ingest.plaintext import read_text_file
from hanforge.corpus.ingest.warc import read_warc
from hanforge.corpus.steps import DROP_REASON


def read_input_file(file: InputFile, *, config: IngestConfig, stat=None) -> Iterator[Document]:
    """Yield every document and drop placeholder of one input file; never raises for bad data."""
    stat = stat or (lambda *labels, value=1: None)
    if file.kind == "unsupported":
        yield drop_placeholder(file, reason="unsupported_file")
        return
    if file.kind == "special":  # a FIFO or device: opening it could block for ever
        yield drop_placeholder(file, reason="not_a_regular_file")
        return
    count = 0
    try:
        fs, path = url_to_fs(file.path)
        size = fs.size(path)
        if size == 0:
            yield drop_placeholder(file, reason="empty_file")
            return
        with fs.open(path, "rb") as fh:
            if file.kind == "warc":
                docs = read_warc(file, fh, config=config, stat=stat)
            elif file.kind == "html":
                docs = read_html_file(file, fh, size=size, config=config)
            elif file.kind == "text":
                docs = read_text_file(file, fh, size=size, config=config)
            elif file.kind == "jsonl":
                docs = read_jsonl(file, fh, config=config, stat=stat)
            else:
                docs = read_parquet(file, fh, config=config, stat=stat)
            for doc in docs:
                count += 1
                yield doc
    except Exception as exc:  # noqa: BLE001 -- one unreadable file never ends the run
        logger.warning(f"ingest: cannot read {file.relpath} ({file.source}): {type(exc).__name__}: {exc}")
        yield drop_placeholder(file, reason=read_error_reason(exc), offset=-1 - count)


class DocumentReader(PipelineStep):
    """Reads the documents of ``files`` (see :func:`~hanforge.corpus.ingest.discover_inputs`).

    Documents carry ``source``, ``url``, ``fetch_date`` and the scratch keys ``_format``
    (``"html"``: raw bytes in ``_raw`` still to decode; ``"text"``: ``text`` is final input
    text), ``_http_charset``, ``_http_headers``, ``_content_type``, ``_warc_lang``.
    """

    type = "hanforge"
    name = "ingest"

    def __init__(self, files: list[InputFile], *, config: IngestConfig | None = None):
        super().__init__()
        self.files = list(files)
        self.config = config or IngestConfig()

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        for file in self.files[rank::world_size]:
            self.stat_update("files")
            for doc in read_input_file(file, config=self.config, stat=self.stat_update):
                self.stat_update("documents")
                reason = doc.metadata.get(DROP_REASON)
                if reason is None:
                    self.stat_update("kept")
                else:
                    self.stat_update("dropped", f"dropped/{reason}")
                yield doc
