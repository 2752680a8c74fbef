"""Split long lines into sentences with kss before line statistics (the ``sentences`` option).

Korean web text often carries a whole article on one line or in one ``<p>``; line statistics
(duplicate lines, lines ending a sentence, boilerplate lines) are then computed over one or two
"lines" and mean little. With ``sentences = true`` a step first splits every line longer than
``sentence_min_chars`` into sentences with kss (``kss.split_sentences``) and computes its line
statistics on the result; the document text itself is never changed.

kss (not a hand-written splitter) because it is the standard Korean sentence splitter (quotes,
numbers, brackets). Backend ``punct`` (the default) is pure Python, needs no model download and
no JVM, and splits at sentence punctuation; ``fast`` also splits at sentence-final endings
without a period (``...했다 그리고``) but split only 11 of the 302 LibreOffice lines of 200+
characters that ``punct`` split 286 of; ``pecab`` is slower still. Only kss's sentence module is loaded (:func:`_import_kss_sentences`).

Why 200 characters (``bench/korean_precise.py --thresholds 100,200,400,800``, 300 LibreOffice
pages + the 17 Debian FAQ chapters, BENCHMARKS.md): no keep/drop decision of the repetition or
quality step changed at any N on either corpus, so N sets what the line statistics see and what
it costs. kss split 95% (LibreOffice) / 90% (FAQ) of the lines of 200+ characters into two or
more sentences (2.7 / 3.2 each), but only 52% / 80% of the lines of 100-199 (1.6 / 2.4 each), and
N = 100 costs 2-3x as much kss (17 / 26 CPU s per MB of page text against 6 / 13 at N = 200).
N = 400 is nearly a no-op: it reaches 24 of LibreOffice's 302 long lines and moves the share of
lines ending a sentence by 0.4 / 1.3 points (N = 200: 2.5 / 5.1).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types

from hanforge.config import require
from hanforge.errors import ConfigError

#: kss backends that need nothing but kss itself (no mecab binary, no model download).
KSS_BACKENDS: tuple[str, ...] = ("punct", "fast", "pecab")
#: Lines shorter than this are left as they are (see ``bench/korean_precise.py``).
DEFAULT_SENTENCE_MIN_CHARS = 200


def require_sentence_options(*, min_chars: int, backend: str) -> None:
    """The ``sentence_min_chars`` / ``sentence_backend`` checks every filter with a ``sentences``
    option makes in its ``validate()``."""
    require(min_chars >= 1, "sentence_min_chars", f"must be >= 1, got {min_chars}")
    require(
        backend in KSS_BACKENDS,
        "sentence_backend",
        f"must be one of {', '.join(KSS_BACKENDS)}, got {backend!r}",
    )


_KSS_SENTENCES = "kss._modules.sentences.split_sentences"


def _import_kss_sentences():
    """kss's own ``split_sentences`` without running ``kss/__init__.py``.

    kss 6's ``__init__`` imports all of its ~30 tools (spacing correction, koparadigm, g2p,
    hanja, ...): 18 s of CPU (60 s of wall on the shared 2-core VM) before the first sentence,
    where the sentence module alone takes about 1 s. So a bare package object stands in for
    ``kss`` while the sentence module and what it imports load, and is removed afterwards (a
    later ``import kss`` runs the real ``__init__``, reusing the loaded submodules). The function
    is kss's, unchanged; if kss moves it, the plain ``from kss import split_sentences`` is used.
    """
    if "kss" in sys.modules:  # already imported for real (or by us): nothing to save
        return importlib.import_module(_KSS_SENTENCES).split_sentences
    spec = importlib.util.find_spec("kss")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'kss'")
    stand_in = types.ModuleType("kss")
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules["kss"] = stand_in
    try:
        return importlib.import_module(_KSS_SENTENCES).split_sentences
    except ImportError:
        sys.modules.pop("kss", None)
        from kss import split_sentences

        return split_sentences
    finally:
        if sys.modules.get("kss") is stand_in:
            del sys.modules["kss"]


@functools.lru_cache(maxsize=1)
def _kss_split():
    try:
        return _import_kss_sentences()
    except ImportError as exc:
        raise ConfigError("sentences: kss is not installed; install it with `pip install 'hanforge[korean]'`") from exc


def require_kss(backend: str) -> None:
    """Raise ConfigError (one line) unless kss imports and ``backend`` is one it can run offline."""
    if backend not in KSS_BACKENDS:
        raise ConfigError(f"sentence_backend: must be one of {', '.join(KSS_BACKENDS)}, got {backend!r}")
    _kss_split()


def split_long_lines(lines: list[str], *, min_chars: int, backend: str = "punct") -> list[str]:
    """``lines`` with every line of at least ``min_chars`` characters replaced by its sentences.

    Lines under the limit pass through untouched (and cost nothing). A line that kss returns
    nothing for is kept whole, so no text is lost from the statistics.
    """
    long_idx = [i for i, line in enumerate(lines) if len(line) >= min_chars]
    if not long_idx:
        return lines
    split = _kss_split()
    out: list[str] = []
    start = 0
    for i in long_idx:
        out.extend(lines[start:i])
        sentences = split(lines[i], backend=backend, num_workers=1)
        out.extend(sentences if sentences else [lines[i]])
        start = i + 1
    out.extend(lines[start:])
    return out
