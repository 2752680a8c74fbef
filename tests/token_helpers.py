"""Builders shared by the mix / tokenizer / token-shard tests: text shards from the embedded sample
and a tiny SentencePiece tokenizer trained on them (no hub downloads)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from resiliparse.extract.html2text import extract_plain_text

from hanforge.shards.text_schema import TEXT_SHARD_SCHEMA

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")


def sample_texts(html_files: list[Path]) -> list[tuple[str, str]]:
    """``(source, text)`` for each sample page: main-content text via resiliparse."""
    out = []
    for path in html_files:
        html = path.read_text(encoding="utf-8", errors="replace")
        text = extract_plain_text(html, main_content=True)
        source = "libreoffice" if "libreoffice" in str(path) else "debian-faq"
        out.append((source, text))
    return out


def english_lines(texts: list[str]) -> list[str]:
    """Lines of the sample that are English (Latin letters, no Hangul): the untranslated parts."""
    return [
        line.strip()
        for t in texts
        for line in t.splitlines()
        if len(_LATIN.findall(line)) >= 12 and not _HANGUL.search(line)
    ]


def write_text_shards(
    folder: Path, docs: list[tuple[str, str]], *, num_shards: int = 3, extra: dict[str, list] | None = None
) -> Path:
    """Write ``docs`` (source, text) round-robin into ``folder/shards/part-K.parquet``; return folder."""
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (source, text) in enumerate(docs):
        row = {
            "id": hashlib.sha1(f"{source}-{i}".encode()).hexdigest(),
            "text": text,
            "source": source,
            "num_chars": len(text),
        }
        for key, values in (extra or {}).items():
            row[key] = values[i]
        rows.append(row)
    for k in range(num_shards):
        part = rows[k::num_shards]
        pq.write_table(pa.Table.from_pylist(part, schema=TEXT_SHARD_SCHEMA), folder / "shards" / f"part-{k}.parquet")
    return folder


def train_tiny_tokenizer(shards: Path, output: Path, *, vocab_size: int = 1200) -> Path:
    """Train a small SentencePiece BPE with hanforge and return its folder (a vocabulary this
    small cannot hold the 2,350 KS X 1001 syllables, so they are not required here)."""
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    train_tokenizer(
        inputs=[shards], output=output, config=TokenizerTrainConfig(vocab_size=vocab_size, ksx1001_syllables=False)
    )
    return output
