"""Ingest: input discovery and the reader step (WARC, HTML folders, JSONL, Parquet, plain text).

``discover_inputs(paths, source=...)`` turns input paths (local or fsspec URLs) into a sorted
list of :class:`InputFile`; :class:`DocumentReader` (a datatrove PipelineStep) reads a task's
share of them into documents. Bad input never crashes a run: it becomes dropped documents with
a reason (see :mod:`hanforge.corpus.ingest.reader`). Options: :class:`IngestConfig`.
"""

from hanforge.corpus.hangul_precheck import korean_precheck
from hanforge.corpus.ingest.discover import InputFile, discover_inputs, kind_of, unsupported_files
from hanforge.corpus.ingest.documents import document_id, drop_placeholder
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.corpus.ingest.reader import DocumentReader, read_input_file
from hanforge.errors import InputError

__all__ = [
    "DocumentReader",
    "IngestConfig",
    "InputError",
    "InputFile",
    "discover_inputs",
    "document_id",
    "drop_placeholder",
    "kind_of",
    "korean_precheck",
    "read_input_file",
    "unsupported_files",
]
