"""Typed config of deduplication: the ``[dedup]`` section and the ``exact_dedup`` step.

``[dedup]`` in pipelines.toml configures ``hanforge dedup`` (every key can also be given on the
command line); ``{type = "exact_dedup"}`` is a pipeline step for ``hanforge run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hanforge.config import ConfigBase, StepConfig, register_section, register_step, require
from hanforge.corpus.dedup.shingles import MinhashScheme


@register_section("dedup")
@dataclass(frozen=True)
class DedupConfig(ConfigBase):
    """Exact + MinHash-LSH near-duplicate removal (``hanforge dedup``).

    threshold: Jaccard similarity (of the shingle sets) at or above which two documents are
        near-duplicates. shingle: "char" (character n-grams of the normalized text, default) or
        "eojeol" (n-grams of whitespace words). ngram: n of those n-grams (default 5).
    bands / rows: LSH banding; bands x rows hash functions. The default 16 x 8 (128) makes a
        pair at 0.8 a candidate with probability 0.947 and at 0.9 with 1.000; ``verify`` then
        removes candidates below the threshold. Chosen by measurement (docs/dedup.md).
    verify: keep a candidate pair only if its signature-estimated Jaccard >= threshold.
    split_clusters: split each connected component into verified stars (greedy: the best
        member keeps every member similar to it, the next unassigned member starts the next
        star), so a removed document is always similar to the one kept in its place. Default
        false: a whole component keeps one document (higher recall; see docs/dedup.md).
    seed: seed of the hash functions (changing it changes every signature).
    keep: which document of a cluster is kept: "longest" (most characters of normalized text), "first" (earliest
        in input order: sorted input shards, then row), or "quality:<column>" (highest value of
        a numeric shard column, e.g. "quality:hangul_ratio"); ties go to the earliest document.
    band_partitions: hash ranges per band; bucket work is split into bands x band_partitions
        tasks, each reading only its partition files.
    graph_partitions: partitions of the duplicate graph for the connected-components rounds
        (memory per task is about 32 bytes x edges / graph_partitions).
    max_bucket_pairs: a bucket of up to this many documents compares all pairs; a larger one
        compares each member with the bucket's first document only.
    exact: also mark exact duplicates of the normalized text (drop_reason exact_duplicate).
    near: run the MinHash-LSH stages (false: exact dedup only).
    """

    threshold: float = 0.8
    shingle: Literal["char", "eojeol"] = "char"
    ngram: int = 5
    bands: int = 16
    rows: int = 8
    verify: bool = True
    split_clusters: bool = False
    seed: int = 1
    keep: str = "longest"
    band_partitions: int = 1
    graph_partitions: int = 4
    max_bucket_pairs: int = 32
    exact: bool = True
    near: bool = True

    def validate(self) -> None:
        require(0.0 < self.threshold <= 1.0, "threshold", f"must be in (0, 1], got {self.threshold}")
        require(1 <= self.ngram <= 32, "ngram", f"must be in 1..32, got {self.ngram}")
        require(
            self.bands >= 1 and self.rows >= 1, "bands", f"bands and rows must be >= 1, got {self.bands} x {self.rows}"
        )
        require(self.bands * self.rows <= 1024, "rows", f"bands x rows must be <= 1024, got {self.bands * self.rows}")
        require(self.band_partitions >= 1, "band_partitions", f"must be >= 1, got {self.band_partitions}")
        require(self.graph_partitions >= 1, "graph_partitions", f"must be >= 1, got {self.graph_partitions}")
        require(self.max_bucket_pairs >= 2, "max_bucket_pairs", f"must be >= 2, got {self.max_bucket_pairs}")
        require(self.exact or self.near, "near", "at least one of exact and near must be true")
        require(
            self.keep in ("longest", "first") or (self.keep.startswith("quality:") and len(self.keep) > 8),
            "keep",
            f"must be 'longest', 'first' or 'quality:<column>', got {self.keep!r}",
        )

    @property
    def scheme(self) -> MinhashScheme:
        """The signature scheme these settings define."""
        return MinhashScheme(kind=self.shingle, n=self.ngram, bands=self.bands, rows=self.rows, seed=self.seed)

    @property
    def num_bucket_partitions(self) -> int:
        return self.bands * self.band_partitions


@register_step
@dataclass(frozen=True)
class ExactDedupConfig(StepConfig):
    """Drop exact duplicates of the normalized text (``type = "exact_dedup"``).

    Within one task the first occurrence is kept and later ones are dropped with reason
    ``exact_duplicate`` and ``duplicate_of`` set. For duplicates across tasks and shards run
    ``hanforge dedup`` (which also finds near-duplicates).
    index: optional folder of an earlier ``hanforge dedup`` output (its ``state/``): documents
        whose normalized text appears there are dropped too (dedup a new crawl against an old
        corpus without recomputing it).
    """

    step_type = "exact_dedup"
    index: str | None = None

    def build(self):
        from hanforge.corpus.dedup.exact import ExactDedupStep

        return ExactDedupStep(index=self.index)
