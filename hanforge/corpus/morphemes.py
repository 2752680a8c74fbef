"""Morpheme analysis for the ``precise`` mode of the quality and repetition filters.

The default filters count eojeols (whitespace words) because morpheme analysis is slow. With
``precise = "<analyzer>"`` they compute FineWeb-2's signals on morphemes, as FineWeb-2 defined
them (its Korean word tokenizer is Kiwi): n-grams of morphemes, the per-token new-line ratio
0.196, mean token length 1..6, and at least 2 stop words from :data:`FINEWEB2_KO_STOP_WORDS`.

Analyzers (all run locally, no download at run time):

- ``kiwi``: kiwipiepy (C++, model shipped in the ``kiwipiepy_model`` wheel); the reference,
  since FineWeb-2 used Kiwi.
- ``okt``, ``komoran``: konlpy's Java analyzers; they need a JVM (Debian
  ``default-jre-headless``) and start it on first use (tens of seconds on a loaded machine).

A missing package or JVM fails when the step is built, with one line naming what to install.
Loading lives in :mod:`hanforge.tokenizer.morpheme_split` (tokenizer training uses the same
analyzers; the tokenizer layer sits below the corpus engine).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from hanforge.config import require
from hanforge.errors import ConfigError
from hanforge.tokenizer import morpheme_split
from hanforge.tokenizer.morpheme_split import ANALYZERS


def require_precise_option(precise: str) -> None:
    """The ``precise`` check every filter with a morpheme mode makes in its ``validate()``."""
    require(
        precise in ("", *ANALYZERS),
        "precise",
        f"must be one of {', '.join(ANALYZERS)} or empty, got {precise!r}",
    )


#: FineWeb-2 ``kor_Hang`` stop words; Kiwi morphemes, so they match morpheme-split text only.
FINEWEB2_KO_STOP_WORDS: frozenset[str] = frozenset(
    "의 다 이 는 에 을 한 년 하 은 를 했 고 에서 가 있 으로 인 월 로 되".split()
)


@functools.cache
def analyzer(name: str) -> Callable[[str], list[str]]:
    """``text -> morphemes`` for analyzer ``name`` (loaded once per process)."""
    if name not in ANALYZERS:
        raise ConfigError(f"precise: must be one of {', '.join(ANALYZERS)} (or empty), got {name!r}")
    try:
        loaded = morpheme_split.load(name)
    except ConfigError as exc:
        raise ConfigError(f"precise: {exc}") from None
    if name == "kiwi":
        return lambda text: [token.form for token in loaded.tokenize(text)]
    return loaded.morphs


def load_text_backends(config) -> None:
    """Load what a filter config's ``sentences`` and ``precise`` options need (the kss backend,
    the morpheme analyzer) when the filter is built: a missing one is one ConfigError before any
    document is read."""
    if config.sentences:
        from hanforge.corpus.sentences import require_kss

        require_kss(config.sentence_backend)
    if config.precise:
        analyzer(config.precise)


def morphemes(text: str, name: str) -> list[str]:
    """Morphemes of ``text`` line by line (Komoran fails on some empty or odd lines)."""
    split = analyzer(name)
    out: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            out.extend(split(line))
    return out


def count_stop_words(words: list[str], *, at_most: int) -> int:
    """Stop-word morphemes in ``words`` (Gopher counts occurrences), counting up to ``at_most``."""
    found = 0
    for word in words:
        if word in FINEWEB2_KO_STOP_WORDS:
            found += 1
            if found >= at_most:
                break
    return found
