"""Typed config of ``hanforge tokenize`` (the ``[tokenize]`` section of pipelines.toml).

Kept apart from the job (:mod:`hanforge.tokenizer.tokenize_job`) so that reading a config file
imports no tokenizer library. Command-line options override keys through
:meth:`~hanforge.config.ConfigBase.merge`.
"""

from __future__ import annotations

import dataclasses

from hanforge.config import ConfigBase, register_section, require
from hanforge.shards.token_format import DEFAULT_ROWS_PER_SHARD


@register_section("tokenize")
@dataclasses.dataclass(frozen=True)
class TokenizeConfig(ConfigBase):
    """Settings of the tokenize job (text shards → packed Arrow token shards)."""

    seq_len: int = 4096
    """Tokens per packed row."""
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
    """Rows per token shard file."""
    shuffle_seed: int | None = 0
    """Seed of the global document permutation before packing; unset keeps input order."""
    num_workers: int = 1
    """Processes tokenizing input shards at once (1: threads of one process)."""
    batch_size: int = 1024
    """Documents per encode call."""
    eos_token: str | None = None
    """EOS token to append between documents (default: the tokenizer's own)."""
    text_column: str = "text"
    """Column of the text shards holding the text."""

    def validate(self) -> None:
        require(self.seq_len >= 2, "seq_len", f"must be at least 2, got {self.seq_len}")
        require(self.rows_per_shard >= 1, "rows_per_shard", f"must be >= 1, got {self.rows_per_shard}")
        require(self.num_workers >= 1, "num_workers", f"must be at least 1, got {self.num_workers}")
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(bool(self.text_column), "text_column", "must not be empty")
