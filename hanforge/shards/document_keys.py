"""The metadata keys of a document on its way through a corpus pipeline, named once.

A datatrove ``Document`` carries two kinds of metadata key:

* **signal keys**, one per text-shard column (:data:`~hanforge.shards.text_schema.METADATA_COLUMNS`,
  e.g. ``hangul_ratio``, ``lang``, ``drop_reason``): steps set them and the shard writer turns
  them into columns. A key that is neither a column nor scratch is *unknown*: the writer counts
  it (stat ``unknown_metadata/<key>``) and warns with :class:`UnknownMetadataWarning`, which the
  test suite turns into an error, so a mistyped signal name cannot vanish silently.
* **scratch keys**, starting with :data:`SCRATCH_PREFIX`: in-flight data handed from ingest to
  decode and extract (raw bytes, HTTP headers); never written to a shard.

``doc.text`` goes through three states, told apart by :data:`FORMAT`: empty with the payload in
:data:`RAW` (``FORMAT_HTML`` after ingest of HTML/WARC) → markup (``FORMAT_HTML`` after decode) →
final text (``FORMAT_TEXT`` after extract, or from the start for JSONL/Parquet/plain text).
"""

from __future__ import annotations

from collections.abc import Iterable

from hanforge.shards.text_schema import METADATA_COLUMNS

SCRATCH_PREFIX = "_"

# -- scratch keys (never written) -----------------------------------------------------------
RAW = "_raw"
"""Raw payload bytes of an HTML page or WARC record, until decode (or a drop) releases them."""
FORMAT = "_format"
"""What ``doc.text`` holds: :data:`FORMAT_HTML` (nothing yet, or markup) or :data:`FORMAT_TEXT`."""
HTTP_HEADERS = "_http_headers"
"""HTTP response headers of a WARC record (``{}`` for files)."""
HTTP_CHARSET = "_http_charset"
"""Charset named by the HTTP Content-Type header, if any (decode tries it first)."""
CONTENT_TYPE = "_content_type"
"""HTTP Content-Type of a WARC record, if any."""
WARC_LANG = "_warc_lang"
"""WARC-Identified-Content-Language of a record, if any (the Korean pre-check reads it)."""
PAGE_LENGTH = "_page_length"
"""``(characters, eojeols)`` of the page before ``hangul_ratio`` removed its non-Korean lines
(set only when it removed some; the ``length`` step judges a trimmed page by it)."""

FORMAT_HTML = "html"
FORMAT_TEXT = "text"

# -- signal keys set by more than one step -------------------------------------------------
DROP_REASON = "drop_reason"
"""Why the document was dropped (None while it is kept)."""
DROP_STEP = "drop_step"
"""The step that dropped it."""
DUPLICATE_OF = "duplicate_of"
"""Id of the kept document this one duplicates."""


class UnknownMetadataWarning(UserWarning):
    """A document reached the shard writer with a metadata key that is no column and no scratch."""


_COLUMNS = frozenset(METADATA_COLUMNS)


def unknown_keys(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that are neither a text-shard column nor scratch."""
    return [k for k in keys if k not in _COLUMNS and not k.startswith(SCRATCH_PREFIX)]
