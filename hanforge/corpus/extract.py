"""The ``extract`` step: decoded HTML markup -> the page's main text.

Runs after ``decode``: a document whose ``metadata["_format"] == "html"`` carries its decoded
markup in ``doc.text``; this step replaces it with the extracted main text, deletes the raw
bytes (``_raw``) and sets ``_format = "text"``. Documents with ``_format == "text"`` (or no
``_format`` at all, e.g. built in Python) pass through untouched.

Three backends:

* ``content`` (default): :func:`hanforge.corpus.content.extract_content`, which reads the page
  by its markup (navigation elements, hidden alternatives, link blocks) and keeps inline text in
  reading order; on Korean manual pages with a known content area it keeps the whole content
  area and no navigation where the two below lose inline text or short paragraphs
  (``bench/extract_quality.py``).
* ``resiliparse``: ``resiliparse.parse.html.HTMLTree`` + ``extract_plain_text(...,
  main_content=True, preserve_formatting=True)``. C++ (lexbor) parser; on the 2,560 Korean
  LibreOffice help pages it is 14-23x faster than trafilatura, keeps 90% of the visible Hangul
  against 64%, leaves 0.5% of pages empty against 8.1%, and keeps none of the site navigation
  (trafilatura keeps the page header on 82% of pages). See ``bench/results/extract.md``.
* ``trafilatura``: ``trafilatura.extract(..., include_comments=False)`` with ``favor`` mapped to
  ``favor_precision`` / ``favor_recall``. Stricter main-content heuristics, much slower.

Limits, each a counted drop rather than a crash:

* ``max_html_bytes``: markup larger than this (UTF-8 bytes) is dropped as ``too_large``
  before any parsing.
* ``timeout_s``: a per-document wall-clock limit enforced from outside the parser: the backend
  runs in a supervised child process (:class:`hanforge.corpus.sandbox.SupervisedWorker`, one
  per step instance, i.e. per datatrove task) that is killed and forked again when a page takes
  longer. An expired page is dropped as ``extract_timeout`` after at most ``timeout_s`` plus the
  kill; a parser that crashes the child (segfault, out of memory) drops the page as
  ``extract_error:WorkerCrashed``. This holds for C parsers that never return to Python and for
  libraries that swallow exceptions (trafilatura on lxml 6 swallowed the old ``SIGALRM``
  exception), in every thread. ``timeout_s = 0`` runs the backend in-process with no limit.
  Pages travel to the worker in batches of up to 64 (one round trip per batch; a round trip
  costs about as much CPU as extracting a small page), each page under its own limit.
* An empty or whitespace-only result is dropped as ``extract_empty``; an exception from a
  parser as ``extract_error:<ExceptionType>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, Literal

from datatrove.data import Document, DocumentsPipeline

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.sandbox import SupervisedWorker, WorkerCallError, WorkerCrashed, WorkerTimeout
from hanforge.corpus.steps import DocumentStep, is_dropped
from hanforge.shards import document_keys as keys

#: Pages sent to the extraction worker in one message (at most this many, or this much markup).
BATCH_PAGES = 64
BATCH_CHARS = 8_000_000
_NOT_PREFETCHED = object()


def _batches(docs: DocumentsPipeline):
    """``docs`` in lists of up to BATCH_PAGES documents or about BATCH_CHARS characters."""
    batch: list[Document] = []
    chars = 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc.text or "")
        if len(batch) >= BATCH_PAGES or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _utf8_size_exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` encodes to more than ``limit`` UTF-8 bytes (without encoding if clear)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", errors="surrogatepass")) > limit


@register_step
@dataclasses.dataclass(frozen=True)
class ExtractConfig(StepConfig):
    """HTML -> main text (``type = "extract"``).

    Fields:
        backend: ``"content"`` (default; the page's content by its markup, see
            :mod:`hanforge.corpus.content`), ``"resiliparse"`` (main-content mode; drops inline
            elements and short blocks) or ``"trafilatura"`` (stricter main-content detection,
            14-23x slower on the LibreOffice pages). See bench/results/extract.md.
        favor: trafilatura only: ``"balanced"`` (default), ``"precision"`` (less boilerplate,
            may lose text) or ``"recall"`` (more text, more boilerplate).
        include_tables: trafilatura only: keep table text (default true). resiliparse always
            keeps tables.
        list_bullets: content and resiliparse: prefix list items with a bullet (default true).
        alt_texts: resiliparse only: keep image alt texts (default false: on real pages they are
            mostly "icon", "tip", ...).
        max_link_density: content only: a block whose link text is more than this share of
            its text is navigation and is left out (default 0.8; headings excepted).
        timeout_s: per-document extraction time limit in seconds (default 5.0; 0 disables).
            Enforced by running the backend in a supervised child process that is killed on
            expiry; expired documents are dropped as ``extract_timeout``.
        max_html_bytes: markup larger than this many UTF-8 bytes is dropped as ``too_large``
            without parsing (default 5,000,000).
    """

    step_type: ClassVar[str] = "extract"

    backend: Literal["content", "resiliparse", "trafilatura"] = "content"
    favor: Literal["balanced", "precision", "recall"] = "balanced"
    include_tables: bool = True
    list_bullets: bool = True
    alt_texts: bool = False
    max_link_density: float = 0.8
    timeout_s: float = 5.0
    max_html_bytes: int = 5_000_000

    def validate(self) -> None:
        require(self.timeout_s >= 0, "timeout_s", f"must be >= 0 (0 disables), got {self.timeout_s}")
        require(self.max_html_bytes > 0, "max_html_bytes", f"must be > 0, got {self.max_html_bytes}")
        require(
            0.0 < self.max_link_density <= 1.0, "max_link_density", f"must be in (0, 1], got {self.max_link_density}"
        )

    def build(self) -> ExtractStep:
        return ExtractStep(self)


def make_extractor(config: ExtractConfig) -> Callable[[str], str]:
    """The ``markup -> text`` function of ``config.backend`` (imports the backend lazily)."""
    if config.backend == "content":
        from hanforge.corpus.content import extract_content

        def extract_by_markup(markup: str) -> str:
            return extract_content(markup, list_bullets=config.list_bullets, max_link_density=config.max_link_density)

        return extract_by_markup
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
        super().__init__(config or ExtractConfig())
        self._extract: Callable[[str], str] | None = None  # built lazily: picklable for executors
        self._worker: SupervisedWorker[str, str] | None = None  # forked on first use, per task
        self._prefetched: dict[int, object] = {}  # id(doc) -> outcome, filled by run()

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # Pages go to the supervised worker in batches (one round trip per batch, each page
        # still under its own limit); process() then finds its page's outcome ready.
        try:
            for batch in _batches(data):
                self._extract_batch(batch)
                yield from super().run(iter(batch), rank, world_size)
        finally:
            self._prefetched.clear()
            self.close()

    def close(self) -> None:
        """End the supervised extraction process, if one is running."""
        if self._worker is not None:
            self._worker.close()

    def _extract_batch(self, docs: list[Document]) -> None:
        """Extract the markup of every page of ``docs`` that process() will extract."""
        pages = [
            doc
            for doc in docs
            if not is_dropped(doc)
            and doc.metadata.get(keys.FORMAT) == keys.FORMAT_HTML
            and not _utf8_size_exceeds(doc.text, self.config.max_html_bytes)
        ]
        if pages:
            with self.track_time():
                outcomes = self._extract_many([doc.text for doc in pages])
            self._prefetched.update((id(doc), outcome) for doc, outcome in zip(pages, outcomes, strict=True))

    def _extract_many(self, markups: list[str]) -> list:
        """The backend's text (or the failure) for each markup, within ``timeout_s`` each."""
        if self._extract is None:
            self._extract = make_extractor(self.config)
        if self.config.timeout_s <= 0:  # no limit: in-process, same outcome contract
            return SupervisedWorker.call_here(self._extract, markups)
        if self._worker is None:
            self._worker = SupervisedWorker(self._extract, timeout_s=self.config.timeout_s)
        return self._worker.map(markups)

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
        outcome = self._prefetched.pop(id(doc), _NOT_PREFETCHED)
        if outcome is _NOT_PREFETCHED:  # called directly, not through run()
            (outcome,) = self._extract_many([markup])
        if isinstance(outcome, WorkerTimeout):
            self.stat_update("extract/worker_restarts")
            return "extract_timeout"
        if isinstance(outcome, WorkerCrashed):
            self.stat_update("extract/worker_restarts")
            return "extract_error:WorkerCrashed"
        if isinstance(outcome, WorkerCallError):  # a parser failure on one page is a counted drop
            return f"extract_error:{outcome.type_name}"
        text = outcome
        self.stat_update("extract/html")
        if not text or not text.strip():
            return "extract_empty"
        doc.text = text
        doc.metadata[keys.FORMAT] = keys.FORMAT_TEXT
        return None
