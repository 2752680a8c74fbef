"""The per-document step contract every hanforge corpus step follows.

A :class:`DocumentStep` never removes a document from the stream. It either keeps it (possibly
changing its text or metadata) or marks it dropped with ``metadata["drop_reason"]`` and
``metadata["drop_step"]``; later steps pass dropped documents through untouched and the shard
writer routes them to the excluded shards. That is how ``kept + excluded = input`` holds by
construction, and why drop reasons are data (stats and excluded shards), not log lines.

An exception raised while processing one document drops that document with reason
``error:<ExceptionType>`` and is counted; it never ends the run.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from loguru import logger

from hanforge.shards.document_keys import DROP_REASON, DROP_STEP


def is_dropped(doc: Document) -> bool:
    """Whether an earlier step already dropped ``doc``."""
    return doc.metadata.get(DROP_REASON) is not None


def mark_dropped(doc: Document, *, reason: str, step: str) -> None:
    """Mark ``doc`` dropped by ``step`` for ``reason`` (first drop wins)."""
    if doc.metadata.get(DROP_REASON) is None:
        doc.metadata[DROP_REASON] = reason
        doc.metadata[DROP_STEP] = step


class DocumentStep(PipelineStep):
    """Base of per-document steps: keep (maybe modified) or drop with a reason.

    Subclasses set ``name`` (the ``drop_step`` value and the stats label) and implement
    :meth:`process`. Stats written per step: ``docs_in``, ``kept``, ``dropped`` and
    ``dropped/<reason>`` for every reason, plus whatever the step adds with ``stat_update``.
    """

    type: ClassVar[str] = "hanforge"
    name: ClassVar[str] = "step"

    def __init__(self, config: Any = None) -> None:
        super().__init__()
        self.config = config  # the step's typed config (the object its ``build()`` came from)

    @abstractmethod
    def process(self, doc: Document) -> str | None:
        """Process one live document in place; return a drop reason, or None to keep it."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            if is_dropped(doc):
                yield doc
                continue
            self.stat_update("docs_in")
            with self.track_time():
                try:
                    reason = self.process(doc)
                except Exception as exc:  # noqa: BLE001 - one bad document never ends the run
                    logger.warning(f"{self.name}: {type(exc).__name__} on document {doc.id}: {exc}")
                    reason = f"error:{type(exc).__name__}"
            if reason is None:
                self.stat_update("kept")
            else:
                mark_dropped(doc, reason=reason, step=self.name)
                self.stat_update("dropped", f"dropped/{reason}")
            yield doc
