"""The ``extract`` step: decoded HTML markup -> the page's main text.

Runs after ``decode``: a document whose ``metadata["_format"] == "html"`` carries its decoded
markup in ``doc.text``; this step replaces it with the extracted main text, deletes the raw
bytes (``_raw``) and sets ``_format = "text"``. Documents with ``_format == "text"`` (or no
``_format`` at all, e.g. built in Python) pass through untouched.

Two backends, both well-kept libraries (no hand-written extractor):

* ``resiliparse`` (default): ``resiliparse.parse.html.HTMLTree`` + ``extract_plain_text(...,
  main_content=True, preserve_formatting=True)``. C++ (lexbor) parser; on the 2,560 Korean
  LibreOffice help pages it is 14-23x faster than trafilatura, keeps 90% of the visible Hangul
  against 64%, leaves 0.5% of pages empty against 8.1%, and keeps none of the site navigation
  (trafilatura keeps the page header on 82% of pages). See ``bench/results/extract.md``.
* ``trafilatura``: ``trafilatura.extract(..., include_comments=False)`` with ``favor`` mapped to
  ``favor_precision`` / ``favor_recall``. Stricter main-content heuristics, much slower.

Limits, each a counted drop rather than a crash:

* ``max_html_bytes``: markup larger than this (UTF-8 bytes) is dropped as ``too_large``
  before any parsing.
* ``timeout_s``: a per-document wall-clock limit enforced with ``signal.setitimer(ITIMER_REAL)``
  and ``SIGALRM``; an expired document is dropped as ``extract_timeout``. Signals can only be
  handled in the main thread of a process, so when the step runs in any other thread (some
  executors do) **no limit applies**. Python code (trafilatura) is interrupted as soon as the
  timer fires; a long call inside a C extension (the resiliparse parser) is interrupted only
  when it returns to Python, so the document is still dropped but the time is not saved.
* An empty or whitespace-only result is dropped as ``extract_empty``; an exception from a
  parser as ``extract_error:<ExceptionType>``.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Callable
from typing import ClassVar, Literal, TypeVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.steps import DocumentStep
from hanforge.shards import document_keys as keys

T = TypeVar("T")



class ExtractTimeout(Exception):
    """Raised inside an extraction call when its time limit expires."""


def _raise_timeout(signum, frame):
    raise ExtractTimeout


def call_with_time_limit(fn: Callable[[], T], seconds: float) -> T:
    """Run ``fn()`` and raise :class:`ExtractTimeout` if it runs longer than ``seconds``.

    Uses ``SIGALRM`` and so only works in the main thread; elsewhere, or when ``seconds <= 0``,
    ``fn`` runs without a limit. The previous SIGALRM handler is restored afterwards.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return fn()
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        # Separate finally: if the alarm fires just before the timer is cleared, the one-shot
        # timer is spent anyway and the handler is still restored here.
        signal.signal(signal.SIGALRM, previous)


def _utf8_size_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` encodes to more than ``limit`` UTF-8 bytes (without encoding if clear)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", errors="surrogatepass")) > limit


@register_step
@dataclasses.dataclass
class ExtractConfig(StepConfig):
    """HTML -> main text (``type = "extract"``).

    Fields:
        backend: ``"resiliparse"`` (default; fast, keeps more Korean text) or ``"trafilatura"``
            (stricter main-content detection, 14-23x slower on the LibreOffice pages).
            See bench/results/extract.md.
        favor: trafilatura only: ``"balanced"`` (default), ``"precision"`` (less boilerplate,
            may lose text) or ``"recall"`` (more text, more boilerplate).
        include_tables: trafilatura only: keep table text (default true). resiliparse always
            keeps tables.
        list_bullets: resiliparse only: prefix list items with a bullet (default true).
        alt_texts: resiliparse only: keep image alt texts (default false: on real pages they are
            mostly "icon", "tip", ...).
        timeout_s: per-document extraction time limit in seconds (default 5.0; 0 disables).
            Enforced with SIGALRM only when running in a process's main thread; in other
            threads no limit applies. Expired documents are dropped as ``extract_timeout``.
        max_html_bytes: markup larger than this many UTF-8 bytes is dropped as ``too_large``
            without parsing (default 5,000,000).
    """

    step_type: ClassVar[str] = "extract"

    backend: Literal["resiliparse", "trafilatura"] = "resiliparse"
    favor: Literal["balanced", "precision", "recall"] = "balanced"
    include_tables: bool = True
    list_bullets: bool = True
    alt_texts: bool = False
    timeout_s: float = 5.0
    max_html_bytes: int = 5_000_000

    def validate(self) -> None:
        require(self.timeout_s >= 0, "timeout_s", f"must be >= 0 (0 disables), got {self.timeout_s}")
        require(self.max_html_bytes > 0, "max_html_bytes", f"must be > 0, got {self.max_html_bytes}")

    def build(self) -> ExtractStep:
        return ExtractStep(self)


def make_extractor(config: ExtractConfig) -> Callable[[str], str]:
    """The ``markup -> text`` function of ``config.backend`` (imports the backend lazily)."""
    if config.backend == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        def extract_resiliparse(markup: str) -> str:
            tree = HTMLTree.parse(markup)
            return extract_plain_text(
                tree,
                main_content=True,
                preserve_formatting=True,
                list_bullets=config.list_bullets,
                alt_texts=config.alt_texts,
                links=False,
                form_fields=False,
                noscript=False,
                comments=False,
            )

        return extract_resiliparse

    import trafilatura

    def extract_trafilatura(markup: str) -> str:
        text = trafilatura.extract(
            markup,
            favor_precision=config.favor == "precision",
            favor_recall=config.favor == "recall",
            include_comments=False,
            include_tables=config.include_tables,
            include_images=False,
            include_links=False,
            deduplicate=False,
            with_metadata=False,
        )
        return text or ""

    return extract_trafilatura


class ExtractStep(DocumentStep):
    """Replace HTML markup with its main text; see the module docstring for the drop reasons."""

    name: ClassVar[str] = "extract"

    def __init__(self, config: ExtractConfig | None = None):
        super().__init__()
        self.config = config or ExtractConfig()
        self._extract: Callable[[str], str] | None = None  # built lazily: picklable for executors

    def process(self, doc: Document) -> str | None:
        fmt = doc.metadata.get(keys.FORMAT, keys.FORMAT_TEXT)
        if fmt == keys.FORMAT_TEXT:
            self.stat_update("extract/passthrough")
            return None
        if fmt != keys.FORMAT_HTML:
            return f"extract_unknown_format:{fmt}"
        doc.metadata.pop(keys.RAW, None)
        markup = doc.text
        if _utf8_size_exceeds(markup, self.config.max_html_bytes):
            return "too_large"
        if self._extract is None:
            self._extract = make_extractor(self.config)
        extract = self._extract
        try:
            text = call_with_time_limit(lambda: extract(markup), self.config.timeout_s)
        except ExtractTimeout:
            return "extract_timeout"
        except Exception as exc:  # noqa: BLE001 - a parser failure on one page is a counted drop
            return f"extract_error:{type(exc).__name__}"
        self.stat_update("extract/html")
        if not text or not text.strip():
            return "extract_empty"
        doc.text = text
        doc.metadata[keys.FORMAT] = keys.FORMAT_TEXT
        return None
