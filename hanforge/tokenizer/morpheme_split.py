"""Korean morpheme analyzers, and morpheme boundaries marked inside words for tokenizer training.

Analyzers (all run locally, no download at run time):

- ``kiwi``: kiwipiepy (C++, model shipped in the ``kiwipiepy_model`` wheel); fast (about
  0.3 MB/s per core) and FineWeb-2's Korean word tokenizer, so the default.
- ``okt``, ``komoran``: konlpy's Java analyzers; they need a JVM (Debian
  ``default-jre-headless``) and start it on first use.

:func:`load` gives the analyzer object (the corpus's ``precise`` filter mode uses it too);
:func:`mark_morphemes` puts :data:`DELIMITER` at every morpheme boundary inside an eojeol, for
``hanforge tokenizer train --pretokenize morphemes``: SentencePiece's
``pretokenization_delimiter`` then keeps every learned piece inside one morpheme (학교|에서
gives ``▁학교`` and ``에서``, never ``▁학교에서``), and removes the delimiter, so the trained
model encodes raw text with no analyzer at inference. Boundaries are character positions in the
original line (Kiwi's token offsets; konlpy's morphemes found again in the line), never the
analyzers' normalized forms, so removing the delimiters gives back the line exactly.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from typing import Any

from hanforge.errors import ConfigError

ANALYZERS: tuple[str, ...] = ("kiwi", "okt", "komoran")
#: ASCII unit separator: not text (hanforge's normalization removes control characters);
#: occurrences in a training line are removed before marking.
DELIMITER = "\x1f"

_INSTALL = "install it with `pip install 'hanforge[korean]'`"


def load(name: str) -> Any:
    """The analyzer object, built once per process: ``kiwipiepy.Kiwi`` or a konlpy tagger.

    Raises ConfigError (one line, saying what to install) when the package or the JVM is missing;
    that check runs on every call, the (slow) construction only once.
    """
    if name not in ANALYZERS:
        raise ConfigError(f"morpheme analyzer: must be one of {', '.join(ANALYZERS)}, got {name!r}")
    try:
        if name == "kiwi":
            import kiwipiepy  # noqa: F401
        else:
            import konlpy  # noqa: F401
    except ImportError as exc:
        package = "kiwipiepy" if name == "kiwi" else "konlpy"
        raise ConfigError(f"{package} is not installed; {_INSTALL}") from exc
    if name != "kiwi" and shutil.which("java") is None:
        raise ConfigError(f"{name} needs a Java runtime; install it with `apt-get install -y default-jre-headless`")
    return _build(name)


@functools.cache
def _build(name: str) -> Any:
    if name == "kiwi":
        from kiwipiepy import Kiwi

        return Kiwi(num_workers=0)  # one thread, no pool (kiwipiepy >= 0.21; it warns about the change)
    from konlpy import tag

    return tag.Okt() if name == "okt" else tag.Komoran()


def align(line: str, morphs: list[str]) -> list[int]:
    """Start offsets in ``line`` of the morphemes ``morphs`` (in order) that appear there as written.

    konlpy returns forms, not offsets; a form the analyzer changed (Komoran's 했 -> 하 + 았) is not
    found and gives no boundary, the next form found resumes the alignment. Each search looks
    a bounded distance ahead, so a line costs O(len(line)) per morpheme at most.
    """
    starts, pos = [], 0
    for m in morphs:
        if not m or m.isspace():
            continue
        at = line.find(m, pos, pos + len(m) + 16)
        if at < 0:
            continue
        starts.append(at)
        pos = at + len(m)
    return starts


@functools.cache
def _starts(name: str) -> Callable[[str], list[int]]:
    analyzer = load(name)
    if name == "kiwi":
        return lambda line: [token.start for token in analyzer.tokenize(line)]
    return lambda line: align(line, analyzer.morphs(line))


def mark_morphemes(line: str, *, analyzer: str = "kiwi") -> str:
    """``line`` with :data:`DELIMITER` before every morpheme that starts inside an eojeol."""
    line = line.replace(DELIMITER, "")
    if not line.strip():
        return line
    cuts = sorted({s for s in _starts(analyzer)(line) if 0 < s < len(line) and not line[s - 1].isspace()})
    if not cuts:
        return line
    parts, prev = [], 0
    for s in cuts:
        if line[s].isspace():
            continue
        parts.append(line[prev:s])
        prev = s
    parts.append(line[prev:])
    return DELIMITER.join(parts)
