"""Shard formats and their readers/writers: Parquet text shards (:mod:`text_schema`,
:mod:`text_reader`, :mod:`text_writer`) and Arrow IPC token shards (:mod:`token_format`,
:mod:`token_dataset`). Nothing here imports the layers above (corpus, tokenizer, train, cli).

``TokenShardDataset`` and ``ResumableSampler`` are importable from here; they pull in torch, so
they load on first access (module ``__getattr__``) and ``import hanforge.shards`` stays light.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"TokenShardDataset", "ResumableSampler"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from hanforge.shards import token_dataset

        return getattr(token_dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
