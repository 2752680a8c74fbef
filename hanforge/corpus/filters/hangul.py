"""The ``hangul_ratio`` step: is this document Korean? (Hangul share of its letters.)

``hangul_ratio`` = Hangul syllables and jamo / all Unicode letters (Hangul, Latin, Hanja, ...).
Digits, punctuation and symbols do not count, so a Korean page full of numbers, code or URLs
still scores by its words. The default threshold is 0.3, the lower end of the public range
(Upstage's dataverse uses 0.5 with ``[ㄱ-힣]``). A Hangul syllable packs what takes two or three
Latin letters, so a letter ratio understates how much of a page is Korean: measured on the
2,577 LibreOffice help / Debian FAQ pages (``bench/results/filters.md``), a page at letter
ratio 0.3 has about 45% of its words in Hangul, at 0.5 about 67%. So 0.3 keeps pages that are
at least roughly half Korean (technical pages full of English product and command names) and
drops those that are mostly untranslated English; 0.5 would already drop pages that are
two-thirds Korean. It is a script test, not a language model: tune it by looking at the
``hangul_ratio`` column of the shards.

``drop_nonkorean_lines`` (on by default) first removes lines that are not Korean, then decides the
document on what remains: a Korean page loses its untranslated English paragraphs, and a mixed
page (letter ratio 0.2-0.3 overall) whose Korean paragraphs are whole keeps those paragraphs
instead of being dropped. A page with nothing Korean left is dropped as ``hangul_ratio`` (short
leftovers such as headings then fail the ``length`` step). A line goes when it has at least ``line_min_eojeols`` eojeols with letters and fewer
than ``line_threshold`` of them contain Hangul. Counting eojeols, not letters, is what keeps
mixed lines: "LibreOffice 문서를 엽니다" has 2 of 3 Hangul eojeols (kept) even though Latin
letters outnumber Hangul ones; "This function is part of the OpenDocument standard." has 0 of 8
(removed). Short lines (menu names, code, headings) are never judged.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.filters.korean_text import count_chars, eojeols, has_hangul, has_letter
from hanforge.corpus.steps import DocumentStep
from hanforge.shards import document_keys as keys


@register_step
@dataclasses.dataclass(frozen=True)
class HangulRatioConfig(StepConfig):
    """Hangul-ratio language check (``type = "hangul_ratio"``).

    Fields:
        threshold: minimum Hangul / letters ratio of a Korean document; below it the document
            is dropped as ``hangul_ratio`` (``lang = "other"``). Default 0.3 (see the module
            docstring for why not Upstage's 0.5).
        drop_nonkorean_lines: remove non-Korean lines before the ratio is taken and count them
            in ``num_nonkorean_lines``. Default true (``bench/extract_quality.py`` measures it).
        line_threshold: a line is non-Korean when fewer than this fraction of its letter-bearing
            eojeols contain Hangul. Default 0.2.
        line_min_eojeols: only lines with at least this many letter-bearing eojeols are judged.
            Default 4.
    """

    step_type: ClassVar[str] = "hangul_ratio"

    threshold: float = 0.3
    drop_nonkorean_lines: bool = True
    line_threshold: float = 0.2
    line_min_eojeols: int = 4

    def validate(self) -> None:
        require(0.0 <= self.threshold <= 1.0, "threshold", f"must be within [0, 1], got {self.threshold}")
        require(
            0.0 <= self.line_threshold <= 1.0,
            "line_threshold",
            f"must be within [0, 1], got {self.line_threshold}",
        )
        require(self.line_min_eojeols >= 1, "line_min_eojeols", f"must be >= 1, got {self.line_min_eojeols}")

    def build(self) -> HangulRatioFilter:
        return HangulRatioFilter(self)


def is_nonkorean_line(line: str, *, line_threshold: float, line_min_eojeols: int) -> bool:
    """Whether ``line`` is long enough to judge and has too few Hangul eojeols."""
    worded = [w for w in line.split() if has_letter(w)]
    if len(worded) < line_min_eojeols:
        return False
    return sum(1 for w in worded if has_hangul(w)) / len(worded) < line_threshold


class HangulRatioFilter(DocumentStep):
    """Sets ``hangul_ratio`` and ``lang``; drops ``hangul_ratio`` below the threshold."""

    name = "hangul_ratio"

    def process(self, doc: Document) -> str | None:
        cfg = self.config
        if cfg.drop_nonkorean_lines:
            lines = doc.text.split("\n")
            kept = [
                line
                for line in lines
                if not is_nonkorean_line(line, line_threshold=cfg.line_threshold, line_min_eojeols=cfg.line_min_eojeols)
            ]
            removed = len(lines) - len(kept)
            doc.metadata["num_nonkorean_lines"] = removed
            if removed:
                self.stat_update("nonkorean_lines", value=removed)
                self.stat_update("nonkorean_chars", value=sum(len(x) for x in lines) - sum(len(x) for x in kept))
                doc.metadata[keys.PAGE_LENGTH] = (len(doc.text), len(eojeols(doc.text)))
                doc.text = "\n".join(kept).strip("\n")
        ratio = count_chars(doc.text).hangul_ratio
        doc.metadata["hangul_ratio"] = ratio
        doc.metadata["lang"] = "ko" if ratio >= cfg.threshold else "other"
        if ratio < cfg.threshold:
            return "hangul_ratio"
        return None
