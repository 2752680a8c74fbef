"""The ``length`` step: too short or too long documents, counted in characters and eojeols.

Defaults: ``min_eojeols = 25`` is FineWeb-2's Gopher minimum of 50 words, which for Korean
were Kiwi tokens, converted with the measured 1.97 tokens per eojeol (see
:mod:`hanforge.corpus.filters.repetition`); ``min_chars = 100`` (about 25 eojeols of 4
characters) catches pages of a few long tokens; ``max_chars = 1,000,000`` drops dumps, logs and
concatenated pages that would dominate a mix. On the 2,561 LibreOffice help pages these drop
the stubs that are a heading and a line or two (rates in ``bench/results/filters.md``).

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


@register_step
@dataclasses.dataclass(frozen=True)
class LengthConfig(StepConfig):
    """Document length bounds (``type = "length"``).

    Fields:
        min_chars: fewer characters than this -> dropped ``too_short``. Default 100.
        max_chars: more characters than this -> dropped ``too_long``. Default 1,000,000.
        min_eojeols: fewer whitespace-separated words than this -> dropped ``too_few_eojeols``.
            Default 25.
    """

    step_type: ClassVar[str] = "length"

    min_chars: int = 100
    max_chars: int = 1_000_000
    min_eojeols: int = 25

    def validate(self) -> None:
        require(self.min_chars >= 0, "min_chars", f"must be >= 0, got {self.min_chars}")
        require(
            self.max_chars > self.min_chars,
            "max_chars",
            f"must be > min_chars ({self.min_chars}), got {self.max_chars}",
        )
        require(self.min_eojeols >= 0, "min_eojeols", f"must be >= 0, got {self.min_eojeols}")

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
        if num_chars < self.config.min_chars:
            return "too_short"
        if num_chars > self.config.max_chars:
            return "too_long"
        if num_eojeols < self.config.min_eojeols:
            return "too_few_eojeols"
        return None
