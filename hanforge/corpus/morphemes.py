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
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable

from hanforge.config import require
from hanforge.errors import ConfigError

ANALYZERS: tuple[str, ...] = ("kiwi", "okt", "komoran")


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

_INSTALL = "install it with `pip install 'hanforge[korean]'`"


def _kiwi() -> Callable[[str], list[str]]:
    try:
        from kiwipiepy import Kiwi
    except ImportError as exc:
        raise ConfigError(f"precise: kiwipiepy is not installed; {_INSTALL}") from exc
    kiwi = Kiwi(num_workers=0)
    return lambda text: [token.form for token in kiwi.tokenize(text)]


def _konlpy(name: str) -> Callable[[str], list[str]]:
    try:
        from konlpy import tag
    except ImportError as exc:
        raise ConfigError(f"precise: konlpy is not installed; {_INSTALL}") from exc
    if shutil.which("java") is None:
        raise ConfigError(
            f"precise: {name} needs a Java runtime; install it with `apt-get install -y default-jre-headless`"
        )
    analyzer = tag.Okt() if name == "okt" else tag.Komoran()
    return analyzer.morphs


@functools.cache
def analyzer(name: str) -> Callable[[str], list[str]]:
    """``text -> morphemes`` for analyzer ``name`` (loaded once per process)."""
    if name not in ANALYZERS:
        raise ConfigError(f"precise: must be one of {', '.join(ANALYZERS)} (or empty), got {name!r}")
    return _kiwi() if name == "kiwi" else _konlpy(name)


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
