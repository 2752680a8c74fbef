"""The ``repetition`` step: Gopher repetition rules with FineWeb-2's Korean thresholds.

Semantics follow datatrove's ``GopherRepetitionFilter`` and the repetition half of
``FineWebQualityFilter`` (Gopher, Rae et al. 2021, table A1), as FineWeb-2 ran them for Korean
(``huggingface/fineweb-2``: ``configs/kor_Hang.yml`` and ``fineweb-2-pipeline.py``):

- ``dup_line_frac``: lines (split on runs of ``\\n``) that repeat an earlier line / lines > 0.374.
- ``dup_line_char_frac``, ``dup_para_frac``, ``dup_para_char_frac``: FineWeb-2 switched these
  off for every language (trafilatura leaves no paragraphs; the character version lives in
  ``char_dup_ratio``); here too by default. ``dup_line_char_frac`` is still stored as a column.
- ``top_{n}gram`` (n = 2, 3, 4): characters covered by the most frequent n-gram
  (``len(" ".join(gram)) * count``) / characters > {2: 0.282, 3: 0.228, 4: 0.185}.
- ``dup_{n}gram`` (n = 5..10): characters of n-grams that repeat an earlier n-gram, counted
  greedily left to right without overlap (``len("".join(gram))``, then skip n words) /
  characters > {5: 0.201, 6: 0.184, 7: 0.168, 8: 0.154, 9: 0.140, 10: 0.127}.
- ``char_dup_ratio`` (FineWeb quality): characters of non-blank lines that repeat an earlier
  line / characters other than ``\\n`` > 0.1.
- ``new_line_ratio`` (FineWeb quality, "list ratio"): line breaks / eojeols > 0.387. FineWeb-2's
  Korean 0.196 is per Kiwi token; Kiwi yields 1.97 tokens per eojeol on Korean lines of the
  LibreOffice help (380,274 tokens / 192,594 eojeols, kiwipiepy 0.24.1, measured for
  ``bench/results/filters.md``), so the same limit per eojeol is 0.196 x 1.97 = 0.387. Line
  breaks are counted between non-blank lines (``num_lines - 1``), so extractors that put a blank
  line between paragraphs (resiliparse) score the same as ones that do not (trafilatura).

Why not datatrove's filter itself: its word splitter for Korean is Kiwi (morphemes), which runs
at about 0.3 MB/s per core and is pinned to ``kiwipiepy<0.22`` with a model newer releases no
longer ship. Here the n-grams are over eojeols (whitespace words), so the FineWeb-2 thresholds,
tuned on morphemes, are a starting point to check against the stored columns, not a law (an
eojeol n-gram spans about twice as many morphemes; only the per-word ``new_line_ratio`` is
converted, the character fractions are kept as published).
Words are interned to integer ids once and n-grams are tuples of ids, so each n costs one pass
with tuple hashing instead of building joined strings; character lengths come from a prefix sum
of word lengths. Unlike datatrove's ``"".join`` key, a tuple key cannot merge two different
n-grams that concatenate to the same string.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from itertools import accumulate
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus import morphemes as morph
from hanforge.corpus import sentences as sent
from hanforge.corpus.filters.korean_text import content_lines
from hanforge.corpus.steps import DocumentStep

_LINE_SPLIT = re.compile(r"\n+")
_PARA_SPLIT = re.compile(r"\n{2,}")

FINEWEB2_KO_TOP_NGRAMS: dict[int, float] = {2: 0.282, 3: 0.228, 4: 0.185}
FINEWEB2_KO_DUP_NGRAMS: dict[int, float] = {5: 0.201, 6: 0.184, 7: 0.168, 8: 0.154, 9: 0.140, 10: 0.127}


@register_step
@dataclasses.dataclass(frozen=True)
class RepetitionConfig(StepConfig):
    """Gopher/FineWeb-2 repetition rules over lines and eojeol n-grams (``type = "repetition"``).

    A rule is off when its threshold is ``None`` (the default for the paragraph and line-char
    rules; TOML has no null, so from pipelines.toml switch a fraction rule off with 1.0, which
    nothing exceeds, and an n-gram rule by leaving its n out of the table). Columns are
    computed either way.

    Fields:
        dup_line_frac: max fraction of duplicated lines. Default 0.374 (FineWeb-2 Korean).
        dup_line_char_frac: max fraction of characters in duplicated lines. Default None (off,
            as in FineWeb-2; ``char_dup_ratio`` covers it).
        dup_para_frac: max fraction of duplicated paragraphs (split on blank lines). Default None.
        dup_para_char_frac: max character fraction of duplicated paragraphs. Default None.
        top_ngrams: ``{n: max fraction}`` for the most frequent n-gram's characters.
            Default {"2": 0.282, "3": 0.228, "4": 0.185} (TOML keys are strings).
        dup_ngrams: ``{n: max fraction}`` for characters in repeated n-grams.
            Default {"5": 0.201, ..., "10": 0.127}.
        char_dup_ratio: max characters of repeated lines / non-newline characters. Default 0.1.
        new_line_ratio: max line breaks per eojeol. Default 0.387 (FineWeb-2's 0.196 per Kiwi
            token x 1.97 tokens per eojeol).
        min_top_ngram_count: a ``top_{n}gram`` rule drops only when the most frequent n-gram
            occurs at least this often. Default 2: an n-gram seen once repeats nothing, yet on a
            short page (a heading and two sentences, ~110 characters) one 4-gram of ~20
            characters is over 0.185 of the text; datatrove counts it (1 = its behaviour).
        sentences: split lines of at least ``sentence_min_chars`` characters into sentences
            with kss before the line rules (:mod:`hanforge.corpus.sentences`). Default False.
        sentence_min_chars: see ``sentences``. Default 200.
        sentence_backend: kss backend, one of punct, fast, pecab. Default "punct".
        precise: morpheme analyzer (kiwi, okt, komoran; :mod:`hanforge.corpus.morphemes`):
            n-grams over morphemes and ``precise_new_line_ratio`` per morpheme instead of
            eojeols. Default "" (off).
        precise_new_line_ratio: max line breaks per morpheme in precise mode. Default 0.196
            (FineWeb-2 Korean, per Kiwi token).
    """

    step_type: ClassVar[str] = "repetition"

    dup_line_frac: float | None = 0.374
    dup_line_char_frac: float | None = None
    dup_para_frac: float | None = None
    dup_para_char_frac: float | None = None
    top_ngrams: dict[str, float] = dataclasses.field(
        default_factory=lambda: {str(n): f for n, f in FINEWEB2_KO_TOP_NGRAMS.items()}
    )
    dup_ngrams: dict[str, float] = dataclasses.field(
        default_factory=lambda: {str(n): f for n, f in FINEWEB2_KO_DUP_NGRAMS.items()}
    )
    char_dup_ratio: float | None = 0.1
    new_line_ratio: float | None = 0.387
    min_top_ngram_count: int = 2
    sentences: bool = False
    sentence_min_chars: int = sent.DEFAULT_SENTENCE_MIN_CHARS
    sentence_backend: str = "punct"
    precise: str = ""
    precise_new_line_ratio: float | None = 0.196

    def validate(self) -> None:
        sent.require_sentence_options(min_chars=self.sentence_min_chars, backend=self.sentence_backend)
        morph.require_precise_option(self.precise)
        fractions = ("dup_line_frac", "dup_line_char_frac", "dup_para_frac", "dup_para_char_frac", "char_dup_ratio")
        for key in fractions:
            value = getattr(self, key)
            require(value is None or 0.0 <= value <= 1.0, key, f"must be within [0, 1], got {value}")
        require(self.min_top_ngram_count >= 1, "min_top_ngram_count", f"must be >= 1, got {self.min_top_ngram_count}")
        require(
            self.new_line_ratio is None or self.new_line_ratio >= 0.0,
            "new_line_ratio",
            f"must be >= 0, got {self.new_line_ratio}",
        )
        for key in ("top_ngrams", "dup_ngrams"):
            for n, frac in getattr(self, key).items():
                require(n.isdigit() and 1 <= int(n) <= 50, f"{key}.{n}", "n-gram size must be an integer in 1..50")
                require(0.0 <= frac <= 1.0, f"{key}.{n}", f"must be within [0, 1], got {frac}")

    def build(self) -> RepetitionFilter:
        morph.load_text_backends(self)
        return RepetitionFilter(self)


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number, total characters) of items that repeat an earlier item (Gopher)."""
    seen: set[str] = set()
    num = chars = 0
    for item in items:
        if item in seen:
            num += 1
            chars += len(item)
        else:
            seen.add(item)
    return num, chars


@dataclasses.dataclass(frozen=True)
class EojeolNgrams:
    """Eojeols interned to ids with a prefix sum of their lengths, for n-gram measurements."""

    ids: tuple[int, ...]
    prefix: tuple[int, ...]  # prefix[i] = total characters of the first i eojeols

    @classmethod
    def of(cls, words: list[str]) -> EojeolNgrams:
        vocab: dict[str, int] = {}
        ids = tuple(vocab.setdefault(w, len(vocab)) for w in words)
        return cls(ids=ids, prefix=(0, *accumulate(len(w) for w in words)))

    def chars(self, start: int, n: int) -> int:
        """Characters of the n-gram at ``start`` without separators."""
        return self.prefix[start + n] - self.prefix[start]

    def ngrams(self, n: int) -> list[tuple[int, ...]]:
        """The n-grams in order, as tuples of eojeol ids."""
        return list(zip(*(self.ids[i:] for i in range(n))))

    def top_ngram(self, n: int) -> tuple[int, int]:
        """(characters covered, count) of the most frequent n-gram; characters are
        ``len(" ".join(gram)) * count`` as in datatrove."""
        grams = self.ngrams(n)
        if not grams:
            return 0, 0
        # most_common keeps first-seen order among ties, like datatrove's Counter.
        gram, count = Counter(grams).most_common(1)[0]
        return (self.chars(grams.index(gram), n) + n - 1) * count, count

    def top_ngram_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram, ``len(" ".join(gram)) * count``."""
        return self.top_ngram(n)[0]

    def has_repeated(self, n: int) -> bool:
        """Whether any n-gram occurs twice (if no n-gram does, no longer one does either)."""
        grams = self.ngrams(n)
        return len(set(grams)) < len(grams)

    def dup_ngram_chars(self, n: int) -> int:
        """Characters of n-grams repeating an earlier one, greedy and non-overlapping (Gopher).

        Same result as walking every position; positions whose n-gram occurs once in the whole
        document can never be a repeat (nor make a later one), so only the others are visited.
        """
        grams = self.ngrams(n)
        counts = Counter(grams)
        seen: set[tuple[int, ...]] = set()
        total = next_idx = 0
        for idx, count in enumerate(map(counts.__getitem__, grams)):
            if count == 1 or idx < next_idx:
                continue
            gram = grams[idx]
            if gram in seen:
                total += self.chars(idx, n)
                next_idx = idx + n
            else:
                seen.add(gram)
        return total


class RepetitionFilter(DocumentStep):
    """Sets ``dup_line_frac``, ``dup_line_char_frac``, ``top_ngram_char_frac`` (max over
    n = 2..4) and ``dup_ngram_char_frac`` (max over n = 5..10); drops with the rule's name."""

    name = "repetition"

    def __init__(self, config: RepetitionConfig):
        super().__init__(config)
        self.top_ngrams = sorted((int(n), f) for n, f in config.top_ngrams.items())
        self.dup_ngrams = sorted((int(n), f) for n, f in config.dup_ngrams.items())

    def process(self, doc: Document) -> str | None:
        cfg, text = self.config, doc.text
        if not text.strip():
            return "empty"
        num_chars = len(text)
        lines = _LINE_SPLIT.split(text)
        if cfg.sentences:
            lines = sent.split_long_lines(lines, min_chars=cfg.sentence_min_chars, backend=cfg.sentence_backend)
        dup_lines, dup_line_chars = duplicates(lines)
        dup_line_frac = dup_lines / len(lines)
        dup_line_char_frac = dup_line_chars / num_chars

        words = morph.morphemes(text, cfg.precise) if cfg.precise else text.split()
        grams = EojeolNgrams.of(words)
        top_counts = {n: grams.top_ngram(n) for n, _ in self.top_ngrams}
        top = {n: chars / num_chars for n, (chars, _) in top_counts.items()}
        # Fast path: clean text repeats no n-gram of the smallest size, hence none longer.
        repeats = bool(self.dup_ngrams) and grams.has_repeated(self.dup_ngrams[0][0])
        dup = {n: grams.dup_ngram_chars(n) / num_chars if repeats else 0.0 for n, _ in self.dup_ngrams}

        nonblank = content_lines(text)
        if cfg.sentences:
            nonblank = sent.split_long_lines(nonblank, min_chars=cfg.sentence_min_chars, backend=cfg.sentence_backend)
        _, repeated_line_chars = duplicates(nonblank)
        char_dup_ratio = repeated_line_chars / max(1, num_chars - text.count("\n"))
        new_line_ratio = (len(nonblank) - 1) / len(words) if words else 0.0

        meta = doc.metadata
        meta["dup_line_frac"] = dup_line_frac
        meta["dup_line_char_frac"] = dup_line_char_frac
        meta["top_ngram_char_frac"] = max(top.values(), default=0.0)
        meta["dup_ngram_char_frac"] = max(dup.values(), default=0.0)

        if cfg.dup_para_frac is not None or cfg.dup_para_char_frac is not None:
            paragraphs = _PARA_SPLIT.split(text.strip())
            dup_paras, dup_para_chars = duplicates(paragraphs)
            if cfg.dup_para_frac is not None and dup_paras / len(paragraphs) > cfg.dup_para_frac:
                return "dup_para_frac"
            if cfg.dup_para_char_frac is not None and dup_para_chars / num_chars > cfg.dup_para_char_frac:
                return "dup_para_char_frac"
        if cfg.dup_line_frac is not None and dup_line_frac > cfg.dup_line_frac:
            return "dup_line_frac"
        if cfg.dup_line_char_frac is not None and dup_line_char_frac > cfg.dup_line_char_frac:
            return "dup_line_char_frac"
        for n, limit in self.top_ngrams:
            if top[n] > limit and top_counts[n][1] >= cfg.min_top_ngram_count:
                return f"top_{n}gram"
        for n, limit in self.dup_ngrams:
            if dup[n] > limit:
                return f"dup_{n}gram"
        if cfg.char_dup_ratio is not None and char_dup_ratio > cfg.char_dup_ratio:
            return "char_dup_ratio"
        new_line_limit = cfg.precise_new_line_ratio if cfg.precise else cfg.new_line_ratio
        if new_line_limit is not None and new_line_ratio > new_line_limit:
            return "new_line_ratio"
        return None
