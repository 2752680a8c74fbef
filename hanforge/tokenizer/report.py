"""Compare tokenizers on held-out shards: Korean and English characters per token, side by side.

``hanforge tokenizer report --input HELDOUT --tokenizer A --tokenizer B ...`` calls
:func:`tokenizer_report`. Each non-empty line of the shards is classed as Korean (at least half of
its letters are Hangul), English (Latin letters only, at least 12 of them) or neither; for each
class and tokenizer the report gives characters per token (higher = fewer tokens for the same
text = cheaper training and longer effective context) and the byte-fallback rate (share of tokens
that are ``<0xNN>`` byte pieces: characters the vocabulary does not cover). Special tokens are not
added.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hanforge.errors import InputError
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.train import iter_shard_texts

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[^\W\d_]")
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


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


def tokenizer_report(*, inputs: list[str | Path], tokenizers: list[str | Path],
                     max_lines: int = 0) -> list[dict[str, Any]]:
    """Characters per token for Korean and English lines, one dict per tokenizer, in order."""
    if not tokenizers:
        raise InputError("give at least one tokenizer")
    lines = held_out_lines(inputs, max_lines=max_lines)
    if not lines["ko"] and not lines["en"]:
        raise InputError(f"no Korean or English lines in {', '.join(map(str, inputs))}")
    import numpy as np

    rows = []
    for path in tokenizers:
        loaded = load_tokenizer(path)
        byte_ids = np.array(sorted(i for t, i in loaded.tokenizer.get_vocab(with_added_tokens=True).items()
                                   if _BYTE_PIECE.fullmatch(t)), dtype=np.int64)
        row: dict[str, Any] = {"tokenizer": str(path), "name": loaded.name, "vocab_size": loaded.vocab_size}
        for kind in ("ko", "en"):
            chars = sum(len(x) for x in lines[kind])
            ids, lengths = loaded.encoder.encode(lines[kind], add_special_tokens=False)
            tokens = int(lengths.sum())
            row[f"{kind}_lines"] = len(lines[kind])
            row[f"{kind}_chars"] = chars
            row[f"{kind}_tokens"] = tokens
            row[f"{kind}_chars_per_token"] = chars / tokens if tokens else None
            row[f"{kind}_byte_fallback_rate"] = (float(np.isin(np.asarray(ids), byte_ids).sum()) / tokens
                                                 if tokens else None)
        rows.append(row)
    return rows


def format_report(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`tokenizer_report` rows."""

    def cpt(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    def rate(value: float | None) -> str:
        return "—" if value is None else f"{value:.2%}"

    out = ["| tokenizer | vocab | ko chars/token | en chars/token | ko tokens | en tokens | ko byte fallback |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['name']} | {r['vocab_size']:,} | {cpt(r['ko_chars_per_token'])} | "
                   f"{cpt(r['en_chars_per_token'])} | {r['ko_tokens']:,} | {r['en_tokens']:,} | "
                   f"{rate(r.get('ko_byte_fallback_rate'))} |")
    if rows:
        out.append(f"\n{rows[0]['ko_lines']:,} Korean lines ({rows[0]['ko_chars']:,} chars), "
                   f"{rows[0]['en_lines']:,} English lines ({rows[0]['en_chars']:,} chars)")
    return "\n".join(out)
