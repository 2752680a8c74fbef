"""The ``quality`` step: Gopher/FineWeb-2 quality heuristics, adapted to Korean eojeols.

Signals stored on every document: ``avg_eojeol_len`` (mean characters per eojeol, eojeols made
only of punctuation excluded, as Gopher does for words), ``punct_ratio``, ``symbol_ratio`` and
``digit_ratio`` (Unicode categories P*, S* and Nd over all characters).

Per-word limits are converted from FineWeb-2's Kiwi tokens to eojeols with the measured 1.97
Kiwi tokens per eojeol (see :mod:`hanforge.corpus.filters.repetition`): the characters are the
same, so a mean eojeol length is 1.97 x the mean token length.

Rules, checked in this order; the drop reason is the rule's name:

- ``avg_eojeol_len_low`` / ``avg_eojeol_len_high``: the mean eojeol length must lie in
  [2, 12], FineWeb-2's Korean token bounds 1..6 x 1.97. Measured: median 4.1, 1st percentile
  2.7, 99th 7.3 over the 2,577 LibreOffice/Debian pages (``bench/results/filters.md``). Below 2
  is spaced-out syllables or ``ㅋ ㅋ ㅋ`` noise; above 12 is base64, URLs, hashes, unspaced text.
- ``punct_ratio`` / ``symbol_ratio`` / ``digit_ratio``: upper bounds 0.15 / 0.15 / 0.3 on the
  character fractions (tables of numbers, ASCII art, symbol spam). Not FineWeb-2 rules.
- ``line_punct_ratio``: at least 0.062 (FineWeb-2 Korean) of the non-blank lines must end a
  sentence: with terminal punctuation (``. ! ? 。 …`` and their full-width forms, after
  closing quotes/brackets) or, since informal Korean often omits the period, with a
  sentence-final syllable ``다 요 까 죠``.
- ``bullet_lines``: at most 0.9 of the lines start with a bullet (``• - * · ▶ ■ □ ○ ● ◆ ※ ☞ ▷ ★``).
- ``ellipsis_lines``: at most 0.3 of the lines end with ``...`` or ``…``, counted from 2 such
  lines on (``min_ellipsis_lines``): one line is no pattern of cut-off snippets, and on a 3-line
  help page it is a third of the lines ("이 명령을 사용하려면..." is LibreOffice's idiom).
- ``hash_ratio`` / ``ellipsis_ratio``: at most 0.2 ``#`` / ellipses per eojeol (Gopher's 0.1
  per word, x 1.97 -> 0.2).
- ``line_too_long``: no line longer than 20,000 characters (minified code, unsplit dumps).
- ``alpha_eojeol_ratio``: at least 0.791 of the eojeols contain a letter (FineWeb-2 Korean's
  ``max_non_alpha_words_ratio``; datatrove applies it as this minimum, despite the name).
- ``stop_endings``: at least 2 distinct Korean function endings. FineWeb-2 asks for 2 stop
  words from a list of Kiwi morphemes (의 다 이 는 에 을 ...), which only match morpheme-split
  text. Without splitting, the same evidence is the ending of an eojeol: an eojeol whose Hangul
  part is at least 2 characters long and ends in a particle or verb ending from
  :data:`KOREAN_ENDINGS` (longest match) counts that ending. Running Korean prose has dozens of
  distinct endings; menus, lists of names and non-Korean pages have 0-1.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus import morphemes as morph
from hanforge.corpus import sentences as sent
from hanforge.corpus.filters.korean_text import char_class, content_lines, count_chars
from hanforge.corpus.steps import DocumentStep

#: Particles and verb endings whose presence at the end of an eojeol marks Korean running text.
KOREAN_ENDINGS: tuple[str, ...] = (
    # particles
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "에",
    "의",
    "도",
    "와",
    "과",
    "로",
    "으로",
    "에서",
    "에게",
    "께서",
    "까지",
    "부터",
    "만",
    "보다",
    "처럼",
    "하고",
    "이나",
    "나",
    # sentence-final and connective endings, adnominal forms
    "다",
    "요",
    "니다",
    "습니다",
    "까",
    "죠",
    "고",
    "며",
    "면",
    "지만",
    "서",
    "게",
    "지",
    "도록",
    "한",
    "된",
    "할",
    "될",
    "하는",
    "되는",
    "있는",
    "없는",
    "인",
)
_ENDINGS_BY_LEN = sorted(set(KOREAN_ENDINGS), key=len, reverse=True)
_MAX_ENDING = max(map(len, _ENDINGS_BY_LEN))

TERMINAL_PUNCT = tuple(".!?。…！？")
SENTENCE_FINAL_SYLLABLES = tuple("다요까죠")
CLOSERS = "\"'”’」』)]）》〉"
BULLETS = tuple("•-*·▶►■□○●◆◇※☞▷★☆")


@register_step
@dataclasses.dataclass(frozen=True)
class QualityConfig(StepConfig):
    """Korean quality heuristics (``type = "quality"``); see the module docstring for each rule.

    Set a ratio bound to 1.0 (or a minimum to 0) to switch its rule off from pipelines.toml.

    Fields:
        min_avg_eojeol_len: drop ``avg_eojeol_len_low`` below this. Default 2.0.
        max_avg_eojeol_len: drop ``avg_eojeol_len_high`` above this. Default 12.0.
        max_punct_ratio: drop ``punct_ratio`` above this. Default 0.15.
        max_symbol_ratio: drop ``symbol_ratio`` above this. Default 0.15.
        max_digit_ratio: drop ``digit_ratio`` above this. Default 0.3.
        min_line_punct_ratio: drop ``line_punct_ratio`` below this. Default 0.062 (FineWeb-2).
        max_bullet_lines_ratio: drop ``bullet_lines`` above this. Default 0.9 (Gopher).
        max_ellipsis_lines_ratio: drop ``ellipsis_lines`` above this. Default 0.3 (Gopher).
        min_ellipsis_lines: ``ellipsis_lines`` drops only with at least this many such lines.
            Default 2 (1 = Gopher's count).
        max_hash_ratio: drop ``hash_ratio`` when ``#`` per eojeol exceeds this. Default 0.2.
        max_ellipsis_ratio: drop ``ellipsis_ratio`` when ellipses per eojeol exceed this.
            Default 0.2.
        max_line_chars: drop ``line_too_long`` when a line is longer. Default 20000.
        min_alpha_eojeol_ratio: drop ``alpha_eojeol_ratio`` when fewer eojeols contain a
            letter. Default 0.791 (FineWeb-2).
        min_stop_endings: drop ``stop_endings`` with fewer distinct Korean endings. Default 2.
        sentences: split lines of at least ``sentence_min_chars`` characters into sentences
            with kss before the line rules (:mod:`hanforge.corpus.sentences`). Default False.
        sentence_min_chars: see ``sentences``. Default 200.
        sentence_backend: kss backend, one of punct, fast, pecab. Default "punct".
        precise: morpheme analyzer (kiwi, okt, komoran; :mod:`hanforge.corpus.morphemes`).
            When set, the mean word length (``avg_morpheme_len`` within
            [``min_avg_morpheme_len``, ``max_avg_morpheme_len``]) and the alphabetic word ratio
            are computed on morphemes, and ``stop_endings`` is replaced by FineWeb-2's rule:
            at least ``min_stop_words`` stop-word morphemes (Gopher style, drop reason
            ``stop_words``). Default "" (off).
        min_avg_morpheme_len / max_avg_morpheme_len: Default 1.0 / 6.0 (FineWeb-2 Korean).
        min_stop_words: Default 2 (FineWeb-2).
    """

    step_type: ClassVar[str] = "quality"

    min_avg_eojeol_len: float = 2.0
    max_avg_eojeol_len: float = 12.0
    max_punct_ratio: float = 0.15
    max_symbol_ratio: float = 0.15
    max_digit_ratio: float = 0.3
    min_line_punct_ratio: float = 0.062
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_ellipsis_lines: int = 2
    max_hash_ratio: float = 0.2
    max_ellipsis_ratio: float = 0.2
    max_line_chars: int = 20_000
    min_alpha_eojeol_ratio: float = 0.791
    min_stop_endings: int = 2
    sentences: bool = False
    sentence_min_chars: int = sent.DEFAULT_SENTENCE_MIN_CHARS
    sentence_backend: str = "punct"
    precise: str = ""
    min_avg_morpheme_len: float = 1.0
    max_avg_morpheme_len: float = 6.0
    min_stop_words: int = 2

    def validate(self) -> None:
        sent.require_sentence_options(min_chars=self.sentence_min_chars, backend=self.sentence_backend)
        morph.require_precise_option(self.precise)
        require(self.min_stop_words >= 0, "min_stop_words", f"must be >= 0, got {self.min_stop_words}")
        require(self.min_avg_eojeol_len >= 0, "min_avg_eojeol_len", f"must be >= 0, got {self.min_avg_eojeol_len}")
        require(
            self.max_avg_eojeol_len > self.min_avg_eojeol_len,
            "max_avg_eojeol_len",
            f"must be > min_avg_eojeol_len ({self.min_avg_eojeol_len}), got {self.max_avg_eojeol_len}",
        )
        for key in (
            "max_punct_ratio",
            "max_symbol_ratio",
            "max_digit_ratio",
            "min_line_punct_ratio",
            "max_bullet_lines_ratio",
            "max_ellipsis_lines_ratio",
            "min_alpha_eojeol_ratio",
        ):
            value = getattr(self, key)
            require(0.0 <= value <= 1.0, key, f"must be within [0, 1], got {value}")
        for key in ("max_hash_ratio", "max_ellipsis_ratio"):
            require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        require(self.max_line_chars >= 1, "max_line_chars", f"must be >= 1, got {self.max_line_chars}")
        require(self.min_stop_endings >= 0, "min_stop_endings", f"must be >= 0, got {self.min_stop_endings}")
        require(self.min_ellipsis_lines >= 1, "min_ellipsis_lines", f"must be >= 1, got {self.min_ellipsis_lines}")

    def build(self) -> QualityFilter:
        morph.load_text_backends(self)
        return QualityFilter(self)


def korean_ending(eojeol: str) -> str | None:
    """The function ending of ``eojeol`` (see the module docstring), or None.

    Trailing non-Hangul characters (punctuation, quotes) are ignored; the Hangul run before them
    must be at least 2 characters so that the ending follows a stem.
    """
    end = len(eojeol)
    while end and char_class(eojeol[end - 1]) != "h":
        end -= 1
    start = end
    while start and char_class(eojeol[start - 1]) == "h":
        start -= 1
    word = eojeol[start:end]
    if len(word) < 2:
        return None
    tail = word[-_MAX_ENDING:]
    for ending in _ENDINGS_BY_LEN:
        if tail.endswith(ending) and len(word) > len(ending):
            return ending
    return None


def count_endings(words: list[str], *, at_most: int) -> int:
    """Distinct Korean endings (:func:`korean_ending`) in ``words``, counting up to ``at_most``."""
    found: set[str] = set()
    for word in words:
        ending = korean_ending(word)
        if ending is not None:
            found.add(ending)
            if len(found) >= at_most:
                break
    return len(found)


def ends_sentence(line: str) -> bool:
    """Whether ``line`` ends with terminal punctuation or a sentence-final syllable."""
    stripped = line.rstrip().rstrip(CLOSERS)
    return stripped.endswith(TERMINAL_PUNCT) or stripped.endswith(SENTENCE_FINAL_SYLLABLES)


class QualityFilter(DocumentStep):
    """Sets ``avg_eojeol_len``, ``punct_ratio``, ``symbol_ratio``, ``digit_ratio``; drops by rule."""

    name = "quality"

    def process(self, doc: Document) -> str | None:
        cfg, text = self.config, doc.text
        eojeols = text.split()
        lines = content_lines(text)
        if not eojeols:
            return "empty"
        if cfg.sentences:
            lines = sent.split_long_lines(lines, min_chars=cfg.sentence_min_chars, backend=cfg.sentence_backend)
        if cfg.precise:  # word rules on morphemes (hash/ellipsis per word stay per eojeol)
            words, unit = morph.morphemes(text, cfg.precise), "morpheme"
            if not words:
                return "empty"
            min_len, max_len = cfg.min_avg_morpheme_len, cfg.max_avg_morpheme_len
        else:
            words, unit = eojeols, "eojeol"
            min_len, max_len = cfg.min_avg_eojeol_len, cfg.max_avg_eojeol_len
        counts = count_chars(text)
        avg_len = _record_signals(doc, words, counts, length_key=f"avg_{unit}_len")
        if avg_len < min_len:
            return f"avg_{unit}_len_low"
        if avg_len > max_len:
            return f"avg_{unit}_len_high"
        return self._common(doc, words, lines, counts, num_eojeols=len(eojeols))

    def _common(self, doc: Document, words: list[str], lines: list[str], counts, *, num_eojeols: int) -> str | None:
        """The ratio and line rules shared by the eojeol and the precise mode."""
        cfg, text, meta = self.config, doc.text, doc.metadata
        if meta["punct_ratio"] > cfg.max_punct_ratio:
            return "punct_ratio"
        if meta["symbol_ratio"] > cfg.max_symbol_ratio:
            return "symbol_ratio"
        if meta["digit_ratio"] > cfg.max_digit_ratio:
            return "digit_ratio"
        if sum(map(ends_sentence, lines)) / len(lines) < cfg.min_line_punct_ratio:
            return "line_punct_ratio"
        if sum(line.startswith(BULLETS) for line in lines) / len(lines) > cfg.max_bullet_lines_ratio:
            return "bullet_lines"
        ellipsis_lines = sum(line.endswith(("...", "…")) for line in lines)
        if ellipsis_lines >= cfg.min_ellipsis_lines and ellipsis_lines / len(lines) > cfg.max_ellipsis_lines_ratio:
            return "ellipsis_lines"
        if text.count("#") / num_eojeols > cfg.max_hash_ratio:
            return "hash_ratio"
        if (text.count("...") + text.count("…")) / num_eojeols > cfg.max_ellipsis_ratio:
            return "ellipsis_ratio"
        if max(map(len, lines)) > cfg.max_line_chars:
            return "line_too_long"
        nonletters = counts.nonletter_chars  # a word holds a letter when stripping every non-letter leaves something
        if sum(1 for w in words if w.strip(nonletters)) / len(words) < cfg.min_alpha_eojeol_ratio:
            return "alpha_eojeol_ratio"
        if cfg.precise:
            if cfg.min_stop_words and morph.count_stop_words(words, at_most=cfg.min_stop_words) < cfg.min_stop_words:
                return "stop_words"
        elif cfg.min_stop_endings and count_endings(words, at_most=cfg.min_stop_endings) < cfg.min_stop_endings:
            return "stop_endings"
        return None


def _record_signals(doc: Document, words: list[str], counts, *, length_key: str) -> float:
    """Store the mean word length (under ``length_key``) and the punctuation / symbol / digit
    ratios in ``doc.metadata``; return the mean word length.

    str.strip with the text's own punctuation characters runs in C: a word is punctuation-only
    when stripping punctuation leaves nothing.
    """
    worded = [w for w in words if w.strip(counts.punct_chars)]
    avg_len = sum(map(len, worded)) / len(worded) if worded else 0.0
    meta = doc.metadata
    meta[length_key] = avg_len
    meta["punct_ratio"] = counts.punct / counts.num_chars
    meta["symbol_ratio"] = counts.symbols / counts.num_chars
    meta["digit_ratio"] = counts.digits / counts.num_chars
    return avg_len
