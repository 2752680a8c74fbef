"""Typed configuration of ``hanforge ablate`` (``ablate.toml``).

::

    output = "runs/ablate"
    pipelines = "pipelines.toml"          # where variants' pipelines are defined
    inputs = ["crawl/"]                   # raw input every pipeline variant reads
    heldout = ["heldout-shards/"]         # scored text: never in any variant (checked)
    tokenizer = ""                        # shared tokenizer folder; "" = trained on all variants
    seeds = [1, 2]                        # each seed: its own init and data order (noise)
    token_budget = 2_000_000              # tokens trained per run, the same for every variant
    [proxy]                               # the fixed small model (random init, Llama-style)
    [[variants]]
    name = "default"; pipeline = "korean-web"; dedup = true
    [[variants]]
    name = "no-quality"; pipeline = "korean-web"; drop_steps = ["quality"]
    [[variants]]
    name = "external"; shards = "other/shards"     # text shards made by another tool

See docs/eval.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from hanforge.config import ConfigBase, read_toml, require


@dataclasses.dataclass(frozen=True)
class VariantConfig(ConfigBase):
    """One corpus variant: a pipeline (optionally with steps removed, then dedup), a mix, or shards."""

    path_fields: ClassVar[tuple[str, ...]] = ("mix", "shards")

    name: str = ""
    """Short name shown in the table (letters, digits, - and _)."""
    pipeline: str = ""
    """A pipeline of the pipelines file, run on ``inputs`` (its own inputs are replaced)."""
    drop_steps: list[str] = dataclasses.field(default_factory=list)
    """Step types removed from that pipeline (e.g. ["quality", "repetition"])."""
    dedup: bool = False
    """Run ``hanforge dedup`` (exact + MinHash) on the pipeline's output."""
    mix: str = ""
    """A TOML file with a [mix] section: its output is the variant's text (after pipeline/dedup, if any,
    nothing is wired automatically: the mix names its own sources)."""
    shards: str = ""
    """Text shards made elsewhere (a folder or Parquet files with a ``text`` column)."""

    def validate(self) -> None:
        require(
            bool(self.name) and all(c.isalnum() or c in "-_" for c in self.name),
            "name",
            f"give a short name of letters, digits, - and _ (got {self.name!r})",
        )
        given = [k for k in ("pipeline", "mix", "shards") if getattr(self, k)]
        require(
            len(given) == 1,
            "pipeline",
            f"variant {self.name}: give exactly one of pipeline, mix, shards (got {', '.join(given) or 'none'})",
        )
        require(not (self.drop_steps and not self.pipeline), "drop_steps", "only applies to a pipeline variant")
        require(not (self.dedup and not self.pipeline), "dedup", "only applies to a pipeline variant")


@dataclasses.dataclass(frozen=True)
class ProxyConfig(ConfigBase):
    """The proxy model: a fixed small Llama-style config, random init (seeded)."""

    hidden_size: int = 256
    """Width of the proxy model."""
    num_layers: int = 4
    """Decoder layers."""
    num_heads: int = 4
    """Attention heads."""
    num_kv_heads: int = 4
    """Key/value heads (grouped-query attention when fewer than ``num_heads``)."""
    intermediate_size: int = 768
    """Width of the MLP."""

    def validate(self) -> None:
        for key in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size"):
            require(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        require(self.hidden_size % self.num_heads == 0, "hidden_size", "must be a multiple of num_heads")
        require(self.num_heads % self.num_kv_heads == 0, "num_kv_heads", "must divide num_heads")


@dataclasses.dataclass(frozen=True)
class AblationConfig(ConfigBase):
    """Everything ``hanforge ablate`` needs."""

    path_fields: ClassVar[tuple[str, ...]] = ("output", "pipelines", "inputs", "heldout", "tokenizer")

    output: str = "runs/ablate"
    """Folder of the variants' text, tokens, runs and the comparison table."""
    pipelines: str = "pipelines.toml"
    """pipelines file that defines the variants' pipelines."""
    inputs: list[str] = dataclasses.field(default_factory=list)
    """Raw input of every pipeline variant (files or folders; ``sample:`` = embedded sample)."""
    heldout: list[str] = dataclasses.field(default_factory=list)
    """Held-out Korean text (text shards or .txt files) scored by every model; never trained on."""
    max_heldout_chars: int = 0
    """Score at most this many held-out characters (0 = all)."""
    tokenizer: str = ""
    """Shared tokenizer folder; empty = a SentencePiece BPE trained on the union of the variants."""
    tokenizer_vocab_size: int = 8000
    """Vocabulary of the trained shared tokenizer (when ``tokenizer`` is empty)."""
    seeds: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    """One training run per seed and variant; two seeds measure run-to-run noise."""
    seq_len: int = 512
    """Tokens per training row (the token shards are packed to this length)."""
    token_budget: int = 1_000_000
    """Tokens (rows × seq_len) each run trains on: steps = budget / (batch_size × seq_len)."""
    batch_size: int = 16
    """Rows per optimizer step."""
    learning_rate: float = 1e-3
    """Peak learning rate of every proxy run."""
    warmup_steps: int = 20
    """Warmup steps before the peak learning rate."""
    eval_window: int = 512
    """Tokens per scoring window on the held-out text."""
    eval_stride: int = 256
    """Tokens between scoring windows (overlap = window - stride)."""
    eval_batch_size: int = 8
    """Scoring windows per forward pass."""
    backend: str = "auto"
    """Training backend (auto | unsloth | transformers), as ``hanforge train --backend``."""
    workers: int = 1
    """Processes of the pipeline and dedup runs."""
    proxy: ProxyConfig = dataclasses.field(default_factory=ProxyConfig)
    """The proxy model (``[proxy]``)."""
    variants: list[VariantConfig] = dataclasses.field(default_factory=list)
    """The corpus variants (``[[variants]]``), compared against the first."""

    def validate(self) -> None:
        require(len(self.variants) >= 1, "variants", "give at least one [[variants]] table")
        names = [v.name for v in self.variants]
        require(len(set(names)) == len(names), "variants", f"names must be unique (got {names})")
        require(bool(self.heldout), "heldout", "give the held-out Korean text every model is scored on")
        require(
            len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds),
            "seeds",
            f"give distinct seeds (got {self.seeds})",
        )
        require(self.seq_len >= 8, "seq_len", f"must be >= 8, got {self.seq_len}")
        require(
            self.token_budget >= self.batch_size * self.seq_len,
            "token_budget",
            f"must cover at least one step ({self.batch_size} x {self.seq_len} tokens)",
        )
        require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        require(self.backend in ("auto", "unsloth", "transformers"), "backend", f"unknown backend {self.backend!r}")
        require(self.tokenizer_vocab_size >= 300, "tokenizer_vocab_size", "must be >= 300")
        require(1 <= self.eval_stride <= self.eval_window, "eval_stride", "must be in [1, eval_window]")
        if any(v.pipeline for v in self.variants):
            require(bool(self.inputs), "inputs", "pipeline variants need inputs")

    @property
    def num_steps(self) -> int:
        return self.token_budget // (self.batch_size * self.seq_len)


def load_ablation_config(path: str | Path) -> AblationConfig:
    """Read and validate ``ablate.toml``; relative paths in it resolve against its folder."""
    path = Path(path)
    return AblationConfig.from_table(read_toml(path), where=path.name).resolve_paths(path.parent)
