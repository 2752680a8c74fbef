"""The typed schema of hanforge's Parquet text shards.

Every kept shard (``<output>/shards/*.parquet``) and every excluded shard
(``<output>/excluded/*.parquet``) uses exactly this schema, so they can be concatenated and
compared with Polars. A pipeline step stores a value for column ``c`` in
``document.metadata[c]``; the writer turns metadata into columns by this schema alone. Metadata
keys starting with ``_`` are in-flight scratch (raw bytes, HTTP headers) and are never written.

Columns (see docs/text-shards.md for the long form):

=========================  ==================  =================================================
column                     type                meaning
=========================  ==================  =================================================
id                         string              stable id: hash of URL or path + byte offset
text                       large_string        the document text (kept: final; excluded: as it
                                               was when dropped, empty when never decoded)
source                     string              source name (pipeline input label or file stem)
url                        string?             URL for web documents
path                       string?             the input file, relative to the input folder that
                                               named it (the file name for a file argument)
input_id                   string?             the input record's own id (JSONL key / Parquet
                                               column ``record_id_field``, default ``id``)
fetch_date                 timestamp[us,UTC]?  when the page was fetched (WARC-Date), if known
lang                       string?             ``ko`` when the Hangul ratio passes, else ``other``
charset                    string?             the charset used to decode the raw bytes
hangul_ratio               float32?            Hangul syllables+jamo / all letters
num_chars                  int64               characters in ``text``
num_lines                  int32?              non-empty lines in ``text``
num_eojeols                int32?              whitespace-separated words (eojeols)
avg_eojeol_len             float32?            mean eojeol length in characters
punct_ratio                float32?            punctuation characters / characters
symbol_ratio               float32?            symbol characters / characters
digit_ratio                float32?            digits / characters
dup_line_frac              float32?            duplicated lines / lines
dup_line_char_frac         float32?            characters in duplicated lines / characters
top_ngram_char_frac        float32?            max over n=2..4 of the top n-gram char fraction
dup_ngram_char_frac        float32?            max over n=5..10 of the duplicated n-gram fraction
num_boilerplate_lines      int32?              boilerplate lines removed
num_nonkorean_lines        int32?              non-Korean lines removed (when enabled)
num_pii                    int32?              PII spans replaced
pii_types                  list<string>?       sorted distinct PII placeholder types replaced
dup_cluster_id             string?             near-duplicate cluster id (dedup)
dup_cluster_size           int32?              size of that cluster (dedup)
duplicate_of               string?             id of the kept document this one duplicates
drop_reason                string?             null in kept shards; why it was dropped otherwise
drop_step                  string?             null in kept shards; the step that dropped it
=========================  ==================  =================================================
"""

from __future__ import annotations

import pyarrow as pa

TEXT_SHARD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("path", pa.string()),
        pa.field("input_id", pa.string()),
        pa.field("fetch_date", pa.timestamp("us", tz="UTC")),
        pa.field("lang", pa.string()),
        pa.field("charset", pa.string()),
        pa.field("hangul_ratio", pa.float32()),
        pa.field("num_chars", pa.int64(), nullable=False),
        pa.field("num_lines", pa.int32()),
        pa.field("num_eojeols", pa.int32()),
        pa.field("avg_eojeol_len", pa.float32()),
        pa.field("punct_ratio", pa.float32()),
        pa.field("symbol_ratio", pa.float32()),
        pa.field("digit_ratio", pa.float32()),
        pa.field("dup_line_frac", pa.float32()),
        pa.field("dup_line_char_frac", pa.float32()),
        pa.field("top_ngram_char_frac", pa.float32()),
        pa.field("dup_ngram_char_frac", pa.float32()),
        pa.field("num_boilerplate_lines", pa.int32()),
        pa.field("num_nonkorean_lines", pa.int32()),
        pa.field("num_pii", pa.int32()),
        pa.field("pii_types", pa.list_(pa.string())),
        pa.field("dup_cluster_id", pa.string()),
        pa.field("dup_cluster_size", pa.int32()),
        pa.field("duplicate_of", pa.string()),
        pa.field("drop_reason", pa.string()),
        pa.field("drop_step", pa.string()),
    ],
    metadata={b"hanforge.format": b"text-shard", b"hanforge.format_version": b"1"},
)

#: Columns a step may set through ``document.metadata`` (everything but id and text).
METADATA_COLUMNS: tuple[str, ...] = tuple(f.name for f in TEXT_SHARD_SCHEMA if f.name not in ("id", "text"))
