"""The page's content, all of it and only it: HTML markup -> text, by the page's structure.

:func:`extract_content` is the default backend of the ``extract`` step (``backend = "content"``).
It parses the markup with lxml (libxml2) and reads the DOM in document order:

1. **Navigation goes first, by structure.** Elements that are never page content are removed
   with their subtree (their tail text stays): ``<script>``, ``<style>``, ``<head>``, form
   controls, ``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, ARIA landmark roles that are
   not content (navigation, banner, contentinfo, complementary, search, menu), and elements whose
   ``class``/``id`` names navigation (``navheader``, ``navfooter``, ``breadcrumb``, ``toc``,
   ``menu``, ``sidebar``, ``pagination``, ``related`` ...; see :data:`NAV_TOKENS`).
2. **Hidden alternatives keep one reading.** Help systems write one text per platform or
   application as hidden siblings and let a script show one (LibreOffice ``switchinline``:
   ``Command`` on macOS, ``Ctrl`` elsewhere). When every child of a parent is a hidden element
   (no text of its own between them), the child marked ``default`` is kept (or all of them
   when none is); any other hidden element is hidden for real and removed.
3. **Inline text stays in reading order.** Text of inline elements (arrows, menu paths,
   ``<span>``, ``<kbd>``, links inside sentences) is concatenated as the browser lays it out,
   so "파일 → 위치 열기" and "도구 - 옵션 - 언어 설정" come out whole. Block elements
   (``<p>``, ``<li>``, headings, table rows, ``<div>`` ...) end a line; ``<pre>`` keeps its
   line breaks; whitespace elsewhere collapses to one space. A table cell is a block of its own.
4. **Link blocks go.** A block whose text is mostly link text (``max_link_density``, default
   0.8; headings excepted) is navigation ("관련 주제" lists, "see also" bars, footer link rows), and so is a list or
   table that is all links (a table of contents).

A cross-page line-frequency pass (lines repeated on many pages of one site) is *not* done: one
page cannot know the others, and such a pass would have to be a stage of its own to stay
independent of how pages are split into tasks. On the three manuals of
``bench/extract_quality.py`` the markup rules above leave 0.01% of kept characters outside the
content area, so it has not been needed yet.

Written here, not taken from a library: the main-content extractors at hand (resiliparse,
trafilatura, jusText) decide by text density per block, which drops short inline elements and
short Korean paragraphs (measured in ``bench/extract_quality.py``); this one decides by markup.
"""

from __future__ import annotations

import re

from lxml import etree

#: Elements removed with their subtree (tail text kept).
DROP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "meta",
        "link",
        "svg",
        "math",
        "canvas",
        "iframe",
        "object",
        "embed",
        "button",
        "input",
        "select",
        "option",
        "textarea",
        "form",
        "nav",
        "header",
        "footer",
        "aside",
        "menu",
        "dialog",
        "map",
        "area",
        "audio",
        "video",
        "picture",
        "source",
    }
)
#: ARIA roles that are never page content.
DROP_ROLES = frozenset(
    {
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "menu",
        "menubar",
        "toolbar",
        "dialog",
        "alert",
        "tablist",
    }
)
#: ``class``/``id`` words that name navigation (a word is a run of letters between - _ or spaces).
NAV_TOKENS = frozenset(
    {
        "nav",
        "navbar",
        "navheader",
        "navfooter",
        "navigation",
        "navi",
        "gnb",
        "lnb",
        "snb",
        "breadcrumb",
        "breadcrumbs",
        "toc",
        "menu",
        "menubar",
        "submenu",
        "sidebar",
        "sidenav",
        "pagination",
        "pager",
        "paging",
        "related",
        "relatedtopics",
        "footer",
        "header",
        "topbar",
        "masthead",
        "skip",
        "skiplink",
        "share",
        "sns",
        "social",
        "cookie",
        "banner",
        "advert",
        "ads",
        "comment",
        "comments",
        "debug",
    }
)
#: Words whose prefix ``nav`` would match but which are content.
_NAV_PREFIX = "nav"

BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "body",
        "html",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "caption",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "address",
        "hr",
        "fieldset",
        "legend",
        "details",
        "summary",
        "center",
        "td",
        "th",
    }
)
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
LIST_TAGS = frozenset({"ul", "ol", "dl", "table", "tbody"})
CELL_TAGS = frozenset({"td", "th"})

_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _is_nav_name(value: str | None) -> bool:
    if not value:
        return False
    for word in _WORD_SPLIT.split(value.lower()):
        if word in NAV_TOKENS or (
            word.startswith(_NAV_PREFIX) and word[3:] in ("", "bar", "header", "footer", "menu", "list", "wrap", "box")
        ):
            return True
    return False


def _is_hidden(el) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return bool(style and _DISPLAY_NONE.search(style))


def _is_default(el) -> bool:
    return any("default" in (el.get(a) or "").lower() for a in ("id", "class"))


def _drop(el) -> None:
    """Remove ``el`` and its subtree, keeping its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _prune(root) -> None:
    """Steps 1 and 2 of the module docstring, in place (one pass over the tree)."""
    doomed = []
    hidden_parents = {}
    for el in root.iter(etree.Element):
        tag = el.tag.lower()
        attrib = el.attrib
        if (
            tag in DROP_TAGS
            or ("role" in attrib and attrib["role"].lower() in DROP_ROLES)
            or tag not in ("html", "body")
            and (_is_nav_name(attrib.get("class")) or _is_nav_name(attrib.get("id")))
        ):
            doomed.append(el)
        elif ("hidden" in attrib or "aria-hidden" in attrib or "style" in attrib) and _is_hidden(el):
            parent = el.getparent()
            if parent is not None:
                hidden_parents[id(parent)] = parent
    for el in doomed:
        _drop(el)
    # Hidden alternatives: decided per parent (a parent whose children are all hidden elements).
    for parent in hidden_parents.values():
        children = [c for c in parent if isinstance(c.tag, str)]
        hidden = [c for c in children if _is_hidden(c)]
        if not hidden:
            continue
        own_text = (parent.text or "").strip() or any((c.tail or "").strip() for c in children)
        if len(hidden) == len(children) and not own_text:
            defaults = [c for c in hidden if _is_default(c)]
            for c in hidden:
                if defaults and c not in defaults:
                    _drop(c)
        else:
            for c in hidden:
                _drop(c)


class _Block:
    """Text of one output line being built, with how much of it is link text."""

    __slots__ = ("parts", "link_chars", "pre", "heading")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.link_chars = 0
        self.pre = False
        self.heading = False


class _Reader:
    """Walks the pruned tree and writes lines (step 3), skipping link blocks (step 4)."""

    def __init__(self, *, list_bullets: bool, max_link_density: float) -> None:
        self.lines: list[str] = []
        self.block = _Block()
        self.list_bullets = list_bullets
        self.max_link_density = max_link_density
        self.in_link = 0
        self.in_pre = 0
        self.bullet = False  # a list item started: prefix its first line

    def text(self, value: str | None) -> None:
        if not value:
            return
        if not self.in_pre:
            value = _SPACES.sub(" ", value)
        self.block.parts.append(value)
        if self.in_link:
            self.block.link_chars += len(value.strip())

    def end_block(self) -> None:
        block, self.block = self.block, _Block()
        raw = "".join(block.parts)
        if block.pre:
            lines = [line.rstrip() for line in raw.strip("\n").split("\n")]
        else:
            lines = [_SPACES.sub(" ", raw).strip()]
        content = sum(len(line.strip()) for line in lines)
        if not content:
            return
        if not block.heading and block.link_chars > self.max_link_density * content:
            return
        lines = [line for line in lines if line.strip()]
        if self.bullet:
            lines[0] = "• " + lines[0]
            self.bullet = False
        self.lines.extend(lines)

    def walk(self, el) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "br":
            if self.in_pre:
                self.text("\n")
            else:
                self.end_block()
            self.text(el.tail)
            return
        block = tag in BLOCK_TAGS
        if tag in LIST_TAGS and _all_links(el, self.max_link_density):
            self.text(el.tail)  # a table of contents or a link bar
            return
        if block:
            self.end_block()
            if tag == "pre":
                self.block.pre = True
                self.in_pre += 1
            elif tag in HEADING_TAGS:
                self.block.heading = True  # a heading that links to itself is still the title
            elif tag == "li":
                self.bullet = self.list_bullets
        elif tag == "a" and el.get("href") is not None:
            self.in_link += 1
        elif tag == "img":
            pass
        self.text(el.text)
        for child in el:
            if isinstance(child.tag, str):
                self.walk(child)
            else:
                self.text(child.tail)
        if tag in CELL_TAGS:
            self.text(" ")
        if block:
            if tag == "pre":
                self.in_pre -= 1
            self.end_block()
        elif tag == "a" and el.get("href") is not None:
            self.in_link -= 1
        self.text(el.tail)


def _all_links(el, max_link_density: float) -> bool:
    """Whether a list/table is navigation: at least 3 links and link text over the density limit."""
    links = el.findall(".//a")
    if len(links) < 3:
        return False
    total = len(_SPACES.sub("", "".join(el.itertext())))
    linked = sum(len(_SPACES.sub("", "".join(a.itertext()))) for a in links)
    return total > 0 and linked > max_link_density * total


def parse_html(markup: str):
    """``markup`` as an lxml HTML tree, or None when there is nothing to parse (an XML
    declaration is dropped first: lxml refuses one in a str)."""
    if markup.lstrip().startswith("<?"):
        markup = _XML_DECL.sub("", markup, count=1)
    if not markup.strip():
        return None
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        return etree.fromstring(markup, parser)
    except (etree.XMLSyntaxError, etree.ParserError, ValueError):
        return None


def extract_content(markup: str, *, list_bullets: bool = True, max_link_density: float = 0.8) -> str:
    """The content text of an HTML page, one block per line (see the module docstring)."""
    root = parse_html(markup)
    if root is None:
        return ""
    _prune(root)
    body = root.find("body")
    reader = _Reader(list_bullets=list_bullets, max_link_density=max_link_density)
    reader.walk(body if body is not None else root)
    reader.end_block()
    return "\n".join(reader.lines)
