"""The ``spam`` step: Korean gambling / adult / advertising spam by lexicon hit density.

Terms come from ``hanforge/assets/spam_lexicon_ko.txt`` (or the user's ``lexicon_file``) plus
``extra_terms``; they are matched as case-insensitive substrings with one pyahocorasick
automaton (a C extension installed with datatrove), so the cost is one pass over the text
whatever the lexicon size. Overlapping terms all count ("먹튀검증" hits 먹튀 and 먹튀검증).
Runs of a laughing/crying jamo (``ㅋㅋㅋㅋ``, ``ㅎㅎㅎㅎ``, ``ㅠㅠㅠㅠ``; ``min_jamo_run`` or
more) count as one hit each under the single term ``<jamo_run>``.

A document is dropped as ``spam_lexicon`` when BOTH hold:
- hits per 1,000 characters >= ``max_hits_per_1k_chars`` (default 3.0), and
- distinct terms hit >= ``min_distinct_terms`` (default 3).
Density alone would drop a news article about illegal gambling or loan rates; several distinct
spam terms at a high density is what keyword-stuffed spam pages look like (HAERAE's
KOREAN-WEBTEXT flags 카지노, 토토, 마사지, ㅋㅋㅋ the same way). Hits are counted in the
``spam/hits`` stat.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

import ahocorasick
from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.filters.term_files import read_terms, resolve_term_file
from hanforge.corpus.steps import DocumentStep

JAMO_RUN_TERM = "<jamo_run>"


@register_step
@dataclasses.dataclass(frozen=True)
class SpamConfig(StepConfig):
    """Spam lexicon density filter (``type = "spam"``).

    Fields:
        lexicon_file: term file, one term a line. Default None: the built-in
            ``hanforge/assets/spam_lexicon_ko.txt``.
        extra_terms: more terms, added to the file's. Default [].
        max_hits_per_1k_chars: hit density at or above which a document may be dropped.
            Default 3.0.
        min_distinct_terms: distinct terms needed (with the density) to drop. Default 3.
        min_jamo_run: length of a ㅋ/ㅎ/ㅠ/ㅜ run that counts as a hit; 0 switches it off.
            Default 4.
    """

    step_type: ClassVar[str] = "spam"

    lexicon_file: str | None = None
    extra_terms: list[str] = dataclasses.field(default_factory=list)
    max_hits_per_1k_chars: float = 3.0
    min_distinct_terms: int = 3
    min_jamo_run: int = 4

    def validate(self) -> None:
        require(
            self.max_hits_per_1k_chars > 0,
            "max_hits_per_1k_chars",
            f"must be > 0, got {self.max_hits_per_1k_chars}",
        )
        require(self.min_distinct_terms >= 1, "min_distinct_terms", f"must be >= 1, got {self.min_distinct_terms}")
        require(
            self.min_jamo_run == 0 or self.min_jamo_run >= 2,
            "min_jamo_run",
            f"must be 0 (off) or >= 2, got {self.min_jamo_run}",
        )
        for i, term in enumerate(self.extra_terms):
            require(bool(term.strip()), f"extra_terms[{i}]", "must not be empty")
        resolve_term_file(self.lexicon_file, default="spam_lexicon_ko.txt", key="lexicon_file")

    def build(self) -> SpamFilter:
        return SpamFilter(self)


class SpamFilter(DocumentStep):
    """Counts lexicon hits; drops ``spam_lexicon`` when dense and varied enough."""

    name = "spam"

    def __init__(self, config: SpamConfig):
        super().__init__(config)
        path = resolve_term_file(config.lexicon_file, default="spam_lexicon_ko.txt", key="lexicon_file")
        self.terms = list(dict.fromkeys(t.lower() for t in [*read_terms(path), *config.extra_terms]))
        self.automaton = ahocorasick.Automaton()
        for i, term in enumerate(self.terms):
            self.automaton.add_word(term, i)
        if self.terms:
            self.automaton.make_automaton()
        n = config.min_jamo_run
        self.jamo_run = re.compile(f"ㅋ{{{n},}}|ㅎ{{{n},}}|ㅠ{{{n},}}|ㅜ{{{n},}}") if n else None

    def hits(self, text: str) -> dict[str, int]:
        """Hit count per term (``<jamo_run>`` for laughing/crying runs) in ``text``."""
        counts: dict[str, int] = {}
        if self.terms:
            for _, index in self.automaton.iter(text.lower()):
                term = self.terms[index]
                counts[term] = counts.get(term, 0) + 1
        if self.jamo_run is not None:
            runs = sum(1 for _ in self.jamo_run.finditer(text))
            if runs:
                counts[JAMO_RUN_TERM] = runs
        return counts

    def process(self, doc: Document) -> str | None:
        if not doc.text:
            return None
        counts = self.hits(doc.text)
        total = sum(counts.values())
        if total:
            self.stat_update("spam/hits", value=total)
        density = total * 1000 / len(doc.text)
        if density >= self.config.max_hits_per_1k_chars and len(counts) >= self.config.min_distinct_terms:
            return "spam_lexicon"
        return None
