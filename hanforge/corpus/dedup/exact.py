"""``exact_dedup``: a pipeline step that drops exact duplicates of the normalized text.

The key is the 64-bit blake2b of :func:`~.shingles.normalize_for_hashing` (NFKC, case, digits,
punctuation and whitespace folded), so an NFD copy or a full-width copy of a page is an exact
duplicate of it. Inside one task the first occurrence is kept; with ``index`` (an earlier
``hanforge dedup`` output) documents already in that corpus are dropped as well. Cross-task
duplicates are the job of ``hanforge dedup``. Memory: 8 bytes per distinct text seen in the
task plus 16 bytes per document of the index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datatrove.data import Document

from hanforge.corpus.dedup.layout import REF_BASE, DocFiles, StateLayout, make_keys
from hanforge.corpus.dedup.shingles import exact_hash, normalize_for_hashing
from hanforge.corpus.steps import DocumentStep
from hanforge.errors import ConfigError

EXACT_DUPLICATE = "exact_duplicate"


class ExactDedupStep(DocumentStep):
    """Keep the first document of each normalized text; drop the rest as ``exact_duplicate``."""

    name = "exact_dedup"

    def __init__(self, *, index: str | None = None) -> None:
        super().__init__()
        self.index = index
        if index is not None and not (Path(index) / "state" / "docs").is_dir():
            raise ConfigError(f"exact_dedup.index: {index} is not the output folder of a hanforge dedup run")
        self._seen: dict[int, str] | None = None
        self._index_hashes: np.ndarray | None = None
        self._index_keys: np.ndarray | None = None
        self._index_docs: DocFiles | None = None

    def _load_index(self) -> None:
        self._seen = {}
        if self.index is None:
            self._index_hashes = np.empty(0, dtype=np.uint64)
            return
        layout = StateLayout(self.index)
        self._index_docs = DocFiles(None, reference=self.index)
        hashes, keys = [], []
        for path in sorted((layout.state / "docs").glob("*.exact.npy")):
            shard = int(path.name.split(".")[0])
            h = np.load(path, allow_pickle=False)
            live = np.flatnonzero(h != 0)
            hashes.append(h[live])
            keys.append(make_keys(REF_BASE + shard, live))
        self._index_hashes = np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64)
        self._index_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
        order = np.argsort(self._index_hashes, kind="stable")
        self._index_hashes, self._index_keys = self._index_hashes[order], self._index_keys[order]

    def _index_id(self, h: int) -> str | None:
        pos = int(np.searchsorted(self._index_hashes, np.uint64(h)))
        if pos >= len(self._index_hashes) or int(self._index_hashes[pos]) != h:
            return None
        return self._index_docs.ids(self._index_keys[pos : pos + 1])[0]

    def process(self, doc: Document) -> str | None:
        if self._seen is None:
            self._load_index()
        h = exact_hash(normalize_for_hashing(doc.text or ""))
        original = self._index_id(h) if len(self._index_hashes) else None
        if original is None:
            original = self._seen.get(h)
        if original is None:
            self._seen[h] = doc.id
            return None
        doc.metadata["duplicate_of"] = original
        return EXACT_DUPLICATE
