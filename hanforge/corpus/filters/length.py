"""The ``length`` step: too short or too long documents, counted in characters and eojeols.

Defaults: ``min_eojeols = 25`` is FineWeb-2's Gopher minimum of 50 words, which for Korean
were Kiwi tokens, converted with the measured 1.97 tokens per eojeol (see
:mod:`hanforge.corpus.filters.repetition`); ``min_chars = 100`` (about 25 eojeols of 4
characters) catches pages of a few long tokens; ``max_chars = 1,000,000`` drops dumps, logs and
concatenated pages that would dominate a mix. On the 2,561 LibreOffice help pages these drop
the stubs that are a heading and a line or two (rates in ``bench/results/filters.md``).

A page whose English-only lines ``hangul_ratio`` removed is judged by the page it was (its
characters and eojeols before the removal), as long as most of its eojeols (``min_kept_share``)
remain: the removed lines were the page's own untranslated strings (menu paths, UI labels), not
filler, so removing them does not make a help page a stub; a page that keeps less than that is
judged by what remains. On the LibreOffice help this keeps short reference pages ("개행: 선택한
셀 위에 행 나누기를 삽입합니다 ... 이 명령을 사용하려면 <English menu path>") that were dropped
``too_short`` only because their menu path was English (``bench/extract_quality.py``).

The step always sets ``num_chars`` (= ``len(text)``), ``num_lines`` (non-blank lines) and
``num_eojeols``, also for documents it keeps.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.filters.korean_text import content_lines, eojeols
from hanforge.corpus.steps import DocumentStep
from hanforge.shards import document_keys as keys


@register_step
@dataclasses.dataclass(frozen=True)
class LengthConfig(StepConfig):
    """Document length bounds (``type = "length"``).

    Fields:
        min_chars: fewer characters than this -> dropped ``too_short``. Default 100.
        max_chars: more characters than this -> dropped ``too_long``. Default 1,000,000.
        min_eojeols: fewer whitespace-separated words than this -> dropped ``too_few_eojeols``.
            Default 25.
        min_kept_share: a page trimmed by ``hangul_ratio.drop_nonkorean_lines`` is held to the
            minimums by its length before the trim when at least this share of its eojeols
            remain; else by what remains. 1.0 = always by what remains. Default 0.5.
    """

    step_type: ClassVar[str] = "length"

    min_chars: int = 100
    max_chars: int = 1_000_000
    min_eojeols: int = 25
    min_kept_share: float = 0.5

    def validate(self) -> None:
        require(self.min_chars >= 0, "min_chars", f"must be >= 0, got {self.min_chars}")
        require(
            self.max_chars > self.min_chars,
            "max_chars",
            f"must be > min_chars ({self.min_chars}), got {self.max_chars}",
        )
        require(self.min_eojeols >= 0, "min_eojeols", f"must be >= 0, got {self.min_eojeols}")
        require(
            0.0 <= self.min_kept_share <= 1.0, "min_kept_share", f"must be within [0, 1], got {self.min_kept_share}"
        )

    def build(self) -> LengthFilter:
        return LengthFilter(self)


class LengthFilter(DocumentStep):
    """Sets ``num_chars``, ``num_lines``, ``num_eojeols``; drops too short/long documents."""

    name = "length"

    def process(self, doc: Document) -> str | None:
        text = doc.text
        num_chars = len(text)
        num_eojeols = len(eojeols(text))
        doc.metadata["num_chars"] = num_chars
        doc.metadata["num_lines"] = len(content_lines(text))
        doc.metadata["num_eojeols"] = num_eojeols
        if num_chars > self.config.max_chars:
            return "too_long"
        page_chars, page_eojeols = doc.metadata.get(keys.PAGE_LENGTH, (num_chars, num_eojeols))
        if page_eojeols and num_eojeols >= self.config.min_kept_share * page_eojeols:
            num_chars, num_eojeols = max(num_chars, page_chars), max(num_eojeols, page_eojeols)
        if num_chars < self.config.min_chars:
            return "too_short"
        if num_eojeols < self.config.min_eojeols:
            return "too_few_eojeols"
        return None
