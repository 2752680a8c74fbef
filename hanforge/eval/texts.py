"""Held-out text for evaluation: Parquet text shards or plain text files, cut to a budget.

:func:`read_eval_texts` returns the documents exactly as they will be scored: bits per
character divides by the characters of these strings, so the cut to ``max_chars`` happens here
(the last document kept is cut at a character boundary) and nothing downstream changes them.
"""

from __future__ import annotations

from pathlib import Path

from hanforge.errors import InputError

TEXT_SUFFIXES = (".txt", ".md")


def _plain_files(path: Path) -> list[Path]:
    if path.is_file() and path.suffix in TEXT_SUFFIXES:
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
    return []


def read_eval_texts(inputs: list[str | Path], *, max_chars: int = 0, text_column: str = "text") -> list[str]:
    """Documents of ``inputs`` in order: each ``.txt``/``.md`` file is one document; folders of
    Parquet text shards (a corpus output, a folder of ``*.parquet``, or a Parquet file) give one
    document per row. Empty documents are skipped. ``max_chars`` > 0 keeps documents until that
    many characters, cutting the last one. Raises InputError when nothing is left.
    """
    from hanforge.tokenizer.train import iter_shard_texts

    docs: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        plain = _plain_files(path)
        if plain:
            texts = (p.read_text(encoding="utf-8", errors="replace") for p in plain)
        else:
            texts = (text for _, text in iter_shard_texts([path], column=text_column))
        docs.extend(t for t in texts if t.strip())
    if max_chars > 0:
        kept, total = [], 0
        for text in docs:
            if total >= max_chars:
                break
            text = text[: max_chars - total]
            kept.append(text)
            total += len(text)
        docs = kept
    if not docs:
        raise InputError(f"no text in {', '.join(map(str, inputs))}")
    return docs
