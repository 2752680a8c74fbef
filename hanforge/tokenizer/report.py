"""Compare tokenizers on held-out shards: Korean and English characters per token, side by side.

``hanforge tokenizer report HELDOUT --tokenizer A B ...`` calls
:func:`tokenizer_report`. Each non-empty line of the shards is classed as Korean (at least half of
its letters are Hangul), English (Latin letters only, at least 12 of them) or neither; for each
class and tokenizer the report gives characters per token (higher = fewer tokens for the same
text = cheaper training and longer effective context). Special tokens are not added.

Two coverage figures come with it: the byte-fallback rate (share of the Korean lines' tokens
that are single bytes of a character the vocabulary lacks: a token that decodes, alone, to an
incomplete UTF-8 sequence) and how many of the 2,350 KS X 1001 Hangul syllables are spelled with
such byte tokens. Give held-out text from *another* domain than the training text (another
manual, statutes, news) to see how the tokenizer does out of domain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from hanforge.errors import InputError
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.train import iter_shard_texts, ksx1001_syllables

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]")


def classify_line(line: str) -> str | None:
    """``"ko"``, ``"en"`` or None for a line of text."""
    letters = len(_LETTER.findall(line))
    if not letters:
        return None
    hangul = len(_HANGUL.findall(line))
    if hangul * 2 >= letters:
        return "ko"
    latin = len(_LATIN.findall(line))
    if hangul == 0 and latin >= 12 and latin * 10 >= letters * 9:
        return "en"
    return None


def held_out_lines(inputs: list[str | Path], *, max_lines: int = 0) -> dict[str, list[str]]:
    """Korean and English lines of the shards in ``inputs`` (at most ``max_lines`` each; 0 = all)."""
    out: dict[str, list[str]] = {"ko": [], "en": []}
    for _, text in iter_shard_texts(inputs):
        for line in text.split("\n"):
            line = line.strip()
            kind = classify_line(line)
            if kind and (not max_lines or len(out[kind]) < max_lines):
                out[kind].append(line)
    return out


def tokenizer_report(
    *, inputs: list[str | Path], tokenizers: list[str | Path], max_lines: int = 0
) -> list[dict[str, Any]]:
    """Characters per token for Korean and English lines, one dict per tokenizer, in order."""
    if not tokenizers:
        raise InputError("give at least one tokenizer")
    lines = held_out_lines(inputs, max_lines=max_lines)
    if not lines["ko"] and not lines["en"]:
        raise InputError(f"no Korean or English lines in {', '.join(map(str, inputs))}")
    rows = []
    for path in tokenizers:
        loaded = load_tokenizer(path)
        row: dict[str, Any] = {"tokenizer": str(path), "name": loaded.name, "vocab_size": loaded.vocab_size}
        is_byte = _ByteTokens(loaded.tokenizer)
        ids, _ = loaded.encoder.encode(lines["ko"], add_special_tokens=False)
        uniq, counts = np.unique(ids, return_counts=True)
        byte_tokens = int(sum(n for i, n in zip(uniq.tolist(), counts.tolist(), strict=True) if is_byte(i)))
        row["ko_byte_fallback_rate"] = byte_tokens / len(ids) if len(ids) else None
        syllables = ksx1001_syllables()
        encoded = loaded.tokenizer.encode_batch(list(syllables), add_special_tokens=False)
        row["ksx1001_in_bytes"] = sum(1 for e in encoded if any(map(is_byte, e.ids)))
        for kind in ("ko", "en"):
            chars = sum(len(x) for x in lines[kind])
            tokens = int(loaded.encoder.encode(lines[kind], add_special_tokens=False)[1].sum())
            row[f"{kind}_lines"] = len(lines[kind])
            row[f"{kind}_chars"] = chars
            row[f"{kind}_tokens"] = tokens
            row[f"{kind}_chars_per_token"] = chars / tokens if tokens else None
        rows.append(row)
    return rows


class _ByteTokens:
    """``is_byte(id)``: whether a token decodes, alone, to an incomplete UTF-8 sequence (cached)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.cache: dict[int, bool] = {}

    def __call__(self, token_id: int) -> bool:
        if token_id not in self.cache:
            self.cache[token_id] = "\ufffd" in self.tokenizer.decode([token_id], skip_special_tokens=False)
        return self.cache[token_id]


def format_report(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`tokenizer_report` rows."""

    def cpt(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    out = [
        "| tokenizer | vocab | ko chars/token | en chars/token | ko tokens | en tokens | ko byte fallback "
        "| KS X 1001 syllables in bytes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        rate = "—" if r["ko_byte_fallback_rate"] is None else f"{r['ko_byte_fallback_rate']:.2%}"
        out.append(
            f"| {r['name']} | {r['vocab_size']:,} | {cpt(r['ko_chars_per_token'])} | "
            f"{cpt(r['en_chars_per_token'])} | {r['ko_tokens']:,} | {r['en_tokens']:,} | {rate} | "
            f"{r['ksx1001_in_bytes']:,} of 2,350 |"
        )
    if rows:
        out.append(
            f"\n{rows[0]['ko_lines']:,} Korean lines ({rows[0]['ko_chars']:,} chars), "
            f"{rows[0]['en_lines']:,} English lines ({rows[0]['en_chars']:,} chars)"
        )
    return "\n".join(out)
