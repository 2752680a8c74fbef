"""Exact and MinHash-LSH near-duplicate removal, correct for Korean, in sharded streaming stages.

Importing this package registers the ``[dedup]`` section and the ``exact_dedup`` step type.
Entry point: :func:`hanforge.corpus.dedup.run.run_dedup` (``hanforge dedup``); the design,
shingling choice and memory formulas are in docs/dedup.md.
"""

from hanforge.corpus.dedup import config as config
from hanforge.corpus.dedup.config import DedupConfig, ExactDedupConfig
from hanforge.corpus.dedup.shingles import MinhashScheme, MinhashSignatures, normalize_for_hashing

__all__ = ["DedupConfig", "ExactDedupConfig", "MinhashScheme", "MinhashSignatures", "normalize_for_hashing"]
