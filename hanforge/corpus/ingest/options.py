"""Reader options: the ``[pipelines.<name>.ingest]`` table of ``pipelines.toml``."""

from __future__ import annotations

from dataclasses import dataclass

from hanforge.config import ConfigBase, require
from hanforge.corpus.hangul_precheck import DEFAULT_MIN_RATIO

DEFAULT_MAX_DOC_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 32 * 1024**3


@dataclass(frozen=True)
class IngestConfig(ConfigBase):
    """How :class:`~hanforge.corpus.ingest.DocumentReader` reads input files.

    max_doc_bytes: largest document read, in bytes (default 10 MiB = 10485760). Bigger HTML
        files, text files, WARC payloads, JSONL lines and Parquet texts are dropped as
        ``too_large`` without being read into memory (Parquet texts are checked per row).
    max_file_bytes: most uncompressed bytes read from one input file (default 32 GiB =
        34359738368): JSONL bytes after decompression, the sum of WARC record lengths, the
        uncompressed size of Parquet row groups. The rest of a larger file (a decompression
        bomb) is not read; one ``file_too_large`` drop stands for it.
    text_field: JSONL key / Parquet column holding the document text (default "text").
    id_field: JSONL key / Parquet column holding an id to use verbatim as the document id
        (default: none; ids are then the stable hash of url-or-path and offset).
    record_id_field: JSONL key / Parquet column holding the record's own id, kept verbatim (as a
        string) in the ``input_id`` column whatever hanforge's own id is (default "id"; ""
        turns it off). Records without it get a null ``input_id``.
    url_field: JSONL key / Parquet column holding the document URL, used when present
        (default "url").
    korean_only_warc: check each WARC response record before it becomes a document: a
        WARC-Identified-Content-Language header without ``kor``, or a payload whose raw bytes
        hold too little Hangul (see ``precheck_min_ratio``), is dropped as
        ``not_korean_precheck`` with no decoding or HTML parsing (default false).
    precheck_min_ratio: minimum share of a raw payload's bytes encoding Hangul for
        ``korean_only_warc`` (default 0.01; same meaning as ``hangul_precheck.min_ratio``).
    """

    max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    text_field: str = "text"
    id_field: str | None = None
    record_id_field: str | None = "id"
    url_field: str | None = "url"
    korean_only_warc: bool = False
    precheck_min_ratio: float = DEFAULT_MIN_RATIO

    def validate(self) -> None:
        require(self.max_doc_bytes >= 1, "max_doc_bytes", f"must be >= 1, got {self.max_doc_bytes}")
        require(
            self.max_file_bytes >= self.max_doc_bytes,
            "max_file_bytes",
            f"must be >= max_doc_bytes ({self.max_doc_bytes}), got {self.max_file_bytes}",
        )
        require(bool(self.text_field), "text_field", "must not be empty")
        require(
            0.0 <= self.precheck_min_ratio <= 1.0,
            "precheck_min_ratio",
            f"must be in [0, 1], got {self.precheck_min_ratio}",
        )
