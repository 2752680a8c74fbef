"""Character classes, eojeols and lines: the shared measurements of the Korean filters.

Everything here is plain ``str`` work, no morpheme analysis: Kiwi runs at about 0.3 MB/s per
core (measured on this project's machines), far too slow for a per-document filter at web scale, so the
filters count *eojeols* -- whitespace-separated Korean words, particles attached -- instead of
morphemes.

Character classes are counted once per distinct character: ``collections.Counter(text)`` runs
in C, then each distinct character is classified with :func:`unicodedata.category` through a
cache. That is a few times faster than a Python loop over the text and needs no third-party
regex engine for ``\\p{P}``-style classes.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from dataclasses import dataclass

#: Unicode blocks counted as Hangul: syllables, jamo, compatibility jamo, jamo extended A/B.
HANGUL_RANGES: tuple[tuple[int, int], ...] = (
    (0xAC00, 0xD7A3),
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xA960, 0xA97F),
    (0xD7B0, 0xD7FF),
)


def is_hangul(char: str) -> bool:
    """Whether ``char`` is a Hangul syllable or jamo (any of :data:`HANGUL_RANGES`)."""
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in HANGUL_RANGES)


# Class letters: h = Hangul (also a letter), l = other letter, d = decimal digit,
# p = punctuation, s = symbol, w = whitespace, o = anything else (marks, controls, ...).
@functools.lru_cache(maxsize=65536)
def char_class(char: str) -> str:
    """One-letter class of ``char``: ``h`` Hangul, ``l`` other letter, ``d`` digit,
    ``p`` punctuation, ``s`` symbol, ``w`` whitespace, ``o`` other."""
    if is_hangul(char):
        return "h"
    if char.isspace():
        return "w"
    cat = unicodedata.category(char)
    if cat[0] == "L":
        return "l"
    if cat == "Nd":
        return "d"
    if cat[0] == "P":
        return "p"
    if cat[0] == "S":
        return "s"
    return "o"


@dataclass(frozen=True)
class CharCounts:
    """Counts of each character class in a text (see :func:`char_class`)."""

    num_chars: int
    hangul: int
    letters: int  # Hangul included
    digits: int
    punct: int
    symbols: int
    punct_chars: str = ""  # the distinct punctuation characters of the text
    nonletter_chars: str = ""  # the distinct characters of the text that are not letters

    @property
    def hangul_ratio(self) -> float:
        """Hangul characters / all letters; 0.0 for a text without letters."""
        return self.hangul / self.letters if self.letters else 0.0


def count_chars(text: str) -> CharCounts:
    """Count the character classes of ``text`` in one C-speed pass."""
    by_class: Counter[str] = Counter()
    punct, nonletter = [], []
    for char, n in Counter(text).items():
        cls = char_class(char)
        by_class[cls] += n
        if cls == "p":
            punct.append(char)
        if cls not in "hl":
            nonletter.append(char)
    return CharCounts(
        num_chars=len(text),
        hangul=by_class["h"],
        letters=by_class["h"] + by_class["l"],
        digits=by_class["d"],
        punct=by_class["p"],
        symbols=by_class["s"],
        punct_chars="".join(punct),
        nonletter_chars="".join(nonletter),
    )


def eojeols(text: str) -> list[str]:
    """The eojeols of ``text``: its whitespace-separated words."""
    return text.split()


def content_lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, stripped."""
    return [stripped for line in text.split("\n") if (stripped := line.strip())]


def has_letter(word: str) -> bool:
    """Whether ``word`` holds at least one letter (Hangul or any other script)."""
    return any(char.isalpha() for char in word)


def has_hangul(word: str) -> bool:
    """Whether ``word`` holds at least one Hangul character."""
    return any(char_class(char) == "h" for char in word)
