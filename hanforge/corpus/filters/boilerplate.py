"""The ``boilerplate`` step: remove Korean web boilerplate *lines*, keep the article.

Korean news and portal pages repeat the same footers and widgets on every page ("무단전재 및
재배포 금지", "저작권자 ⓒ ...", "홍길동 기자 hong@example.com", "구독", "공유하기 카카오톡
페이스북", "이전글/다음글", "홈 > 뉴스 > 정치"). Left in, they inflate near-duplicate clusters and
teach the model footers. This step deletes such lines and keeps everything else.

Precision first; a line is removed only when it is short (at most ``max_line_chars``,
default 200) and one of these holds:

1. it matches, as a whole, a pattern of ``[line_patterns]`` in the pattern file
   (``hanforge/assets/boilerplate_ko.txt`` by default; copyright, reporter/e-mail, subscription,
   previous/next, related-article and sharing lines). Whole-line matching is what keeps a real
   sentence that mentions a 기자 or 구독 mid-sentence;
2. it consists only of ``[widget_words]`` (at least two of them: "공유 카카오톡 페이스북
   트위터", "로그인 | 회원가입", "이전 다음"), or is one of ``[widget_lines]``;
3. (``remove_nav_crumbs``) it is a navigation trail: at least 3 short items separated by
   ``>``, ``›``, ``»``, ``|`` or a spaced ``·`` (or 2 when the first item is 홈/Home), every item
   at most ``crumb_max_item_chars`` characters and 3 eojeols and made of words only (letters,
   digits, spaces, ``.·&/-``: code such as ``vA > vB Or vB > vC`` is not a trail), no sentence
   ending. Menu paths
   written with `` - `` (LibreOffice help: "서식 - 문자") are left alone.

4. (``drop_repeated_titles``) it repeats, word for word, a short line earlier on the same page
   (at most ``repeated_title_max_chars`` characters, no sentence ending) that the page has exactly
   twice: a title written again as a caption or an icon label. Lines found three or more times
   are table values and stay for the ``repetition`` step to judge. Left in, such repeats make a short manual
   page look like a repetitive one to the ``repetition`` step (LibreOffice help: "감마 ...
   감마", "암호 ... 암호"). The first occurrence stays.

``[prefix_patterns]`` cut news datelines from the start of a line ("(서울=연합뉴스) 홍길동
기자 = 정부는 ..." keeps "정부는 ..."); counted as ``boilerplate/dateline`` in the stats.

Sets ``num_boilerplate_lines`` (lines removed, 0 when none). A document with lines but none left
is dropped as ``boilerplate_only``. Written here because the generic boilerplate removers
(jusText, trafilatura's own) work on HTML blocks before extraction and know no Korean footers.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.filters.quality import ends_sentence
from hanforge.corpus.filters.term_files import read_sections, resolve_term_file
from hanforge.corpus.steps import DocumentStep
from hanforge.errors import ConfigError

SECTIONS = ("line_patterns", "prefix_patterns", "widget_words", "widget_lines")
_WIDGET_SPLIT = re.compile(r"[\s|·/,•:>]+")
_CRUMB_SPLIT = re.compile(r"\s*(?:>|›|»|\||\s·\s)\s*")
# A crumb item is words only: letters, digits, spaces and . · & / - (no code punctuation).
_CRUMB_ITEM = re.compile(r"[\w\s.·&/-]*[^\W\d_][\w\s.·&/-]*")
_CRUMB_HOME = {"홈", "home", "처음", "메인", "홈으로", "main"}
_BLANK_RUNS = re.compile(r"\n{3,}")
_CRUMB_SEPARATORS = re.compile(r"[>›»|·]")
_WIDGET_MAX_CHARS = 100  # a line of sharing/login buttons is short


@register_step
@dataclasses.dataclass(frozen=True)
class BoilerplateConfig(StepConfig):
    """Korean boilerplate line removal (``type = "boilerplate"``).

    Fields:
        patterns_file: pattern file with ``[line_patterns]``, ``[prefix_patterns]``,
            ``[widget_words]``, ``[widget_lines]`` sections (format in the file's header).
            Default None: the built-in ``hanforge/assets/boilerplate_ko.txt``.
        extra_line_patterns: more whole-line regular expressions, added to the file's.
            Default [].
        max_line_chars: longer lines are never removed. Default 200.
        remove_nav_crumbs: remove navigation trails ("홈 > 뉴스 > 정치"). Default true.
        crumb_max_item_chars: longest item of a navigation trail. Default 20.
        strip_datelines: cut ``[prefix_patterns]`` (news datelines) from line starts.
            Default true.
        drop_repeated_titles: remove later copies of a short line already on the page (rule 4).
            Default true.
        repeated_title_max_chars: longest line rule 4 applies to. Default 40.
    """

    step_type: ClassVar[str] = "boilerplate"

    patterns_file: str | None = None
    extra_line_patterns: list[str] = dataclasses.field(default_factory=list)
    max_line_chars: int = 200
    remove_nav_crumbs: bool = True
    crumb_max_item_chars: int = 20
    strip_datelines: bool = True
    drop_repeated_titles: bool = True
    repeated_title_max_chars: int = 40

    def validate(self) -> None:
        require(self.max_line_chars >= 1, "max_line_chars", f"must be >= 1, got {self.max_line_chars}")
        require(
            self.crumb_max_item_chars >= 1,
            "crumb_max_item_chars",
            f"must be >= 1, got {self.crumb_max_item_chars}",
        )
        resolve_term_file(self.patterns_file, default="boilerplate_ko.txt", key="patterns_file")
        for i, pattern in enumerate(self.extra_line_patterns):
            _compile(pattern, where=f"extra_line_patterns[{i}]")

    def build(self) -> BoilerplateRemover:
        return BoilerplateRemover(self)


def _compile(pattern: str, *, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None


def _alternation(patterns: list[str], *, where: str) -> re.Pattern[str] | None:
    for i, pattern in enumerate(patterns):
        _compile(pattern, where=f"{where}[{i}]")
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


class BoilerplateRemover(DocumentStep):
    """Removes boilerplate lines; sets ``num_boilerplate_lines``; drops ``boilerplate_only``."""

    name = "boilerplate"

    def __init__(self, config: BoilerplateConfig):
        super().__init__(config)
        path = resolve_term_file(config.patterns_file, default="boilerplate_ko.txt", key="patterns_file")
        sections = read_sections(path, sections=SECTIONS)
        self.line_re = _alternation(
            sections["line_patterns"] + list(config.extra_line_patterns), where=f"{path.name} [line_patterns]"
        )
        self.prefix_re = _alternation(sections["prefix_patterns"], where=f"{path.name} [prefix_patterns]")
        self.widget_words = {w.lower() for w in sections["widget_words"]}
        self.widget_lines = {" ".join(w.lower().split()) for w in sections["widget_lines"]}

    def is_boilerplate(self, line: str) -> bool:
        """Whether the stripped, non-empty ``line`` is a boilerplate line (rules 1-3)."""
        if len(line) > self.config.max_line_chars:
            return False
        if self.line_re is not None and self.line_re.fullmatch(line):
            return True
        lowered = line.lower()
        if " ".join(lowered.split()) in self.widget_lines:
            return True
        if len(line) <= _WIDGET_MAX_CHARS:
            words = [w for w in _WIDGET_SPLIT.split(lowered) if w]
            if len(words) >= 2 and all(w in self.widget_words for w in words):
                return True
        if not self.config.remove_nav_crumbs or _CRUMB_SEPARATORS.search(line) is None:
            return False
        return self.is_nav_crumb(line)

    def is_nav_crumb(self, line: str) -> bool:
        """Whether ``line`` is a navigation trail such as "홈 > 뉴스 > 정치" (rule 3)."""
        items = [item for item in _CRUMB_SPLIT.split(line) if item]
        if len(items) < 2 or ends_sentence(line):
            return False
        if len(items) == 2 and items[0].lower() not in _CRUMB_HOME:
            return False
        limit = self.config.crumb_max_item_chars
        return all(len(item) <= limit and len(item.split()) <= 3 and _CRUMB_ITEM.fullmatch(item) for item in items)

    def _lines_seen_twice(self, text: str) -> set[str]:
        """Short non-sentence lines that occur exactly twice in ``text`` (rule 4 candidates)."""
        counts = Counter(
            s for line in text.split("\n") if (s := line.strip()) and len(s) <= self.config.repeated_title_max_chars
        )
        return {s for s, n in counts.items() if n == 2 and not ends_sentence(s)}

    def process(self, doc: Document) -> str | None:
        kept: list[str] = []
        seen_titles: set[str] = set()
        twice = self._lines_seen_twice(doc.text) if self.config.drop_repeated_titles else set()
        removed = datelines = had_content = repeats = 0
        for line in doc.text.split("\n"):
            stripped = line.strip()
            if not stripped:
                kept.append(line)
                continue
            had_content += 1
            if self.is_boilerplate(stripped):
                removed += 1
                continue
            if stripped in twice:
                if stripped in seen_titles:
                    removed += 1
                    repeats += 1
                    continue
                seen_titles.add(stripped)
            if self.config.strip_datelines and self.prefix_re is not None:
                match = self.prefix_re.match(stripped)
                if match and match.end() > 0:
                    datelines += 1
                    rest = stripped[match.end() :].strip()
                    if not rest:
                        removed += 1
                        continue
                    line = rest
            kept.append(line)
        doc.metadata["num_boilerplate_lines"] = removed
        if datelines:
            self.stat_update("boilerplate/dateline", value=datelines)
        if repeats:
            self.stat_update("boilerplate/repeated_title", value=repeats)
        if removed or datelines:
            self.stat_update("boilerplate/lines", value=removed)
            doc.text = _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip("\n")
        if had_content and not doc.text.strip():
            return "boilerplate_only"
        return None
