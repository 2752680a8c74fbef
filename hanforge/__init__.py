"""hanforge: a data-centric toolkit for building Korean LLMs.

Subpackages: ``corpus`` (ingest, extract, normalize, filter, PII, dedup, mix),
``shards`` (text and token shard formats), ``train`` and ``eval``.
"""

__version__ = "0.1.0"
