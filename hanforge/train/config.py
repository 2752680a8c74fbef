"""Typed, validated configuration of ``hanforge train`` (``train.toml``).

One :class:`TrainConfig` for the four stages (``cpt``, ``sft``, ``dpo``, ``grpo``); the stage picks
which ``[data]`` key is read and which TRL/transformers trainer runs (:mod:`hanforge.train.trainer`).
Every section is a frozen dataclass; change one with :meth:`~hanforge.config.ConfigBase.merge`.
Sections::

    stage = "cpt"            # or sft / dpo / grpo (the CLI's --stage must agree when both are given)
    output = "runs/cpt"
    seed = 1234
    [model]       path, tokenizer, dtype, finetuning (lora|full), load_in_4bit, attention, ...
    [lora]        rank, alpha, dropout, use_rslora, target_modules
    [vocab]       added_tokens + old_tokenizer: EEVE-style init of new embedding rows (optional)
    [optim]       learning_rate, embedding_learning_rate, schedule, warmup, weight decay, clipping
    [data]        token_shards (cpt) | instructions + template (sft) | preferences (dpo) | prompts (grpo)
    [run]         batch_size, grad_accum, max_steps / num_epochs, logging and checkpoint cadence
    [preference]  loss_type, beta, label_smoothing (dpo only; trl.DPOTrainer)
    [grpo]        rewards ("module:function"), num_generations, max_completion_length, ... (trl.GRPOTrainer)
    [export]      adapter / merged 16-bit safetensors

See ``examples/train-*.toml`` and docs/training.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from hanforge.config import ConfigBase, read_toml, require
from hanforge.errors import ConfigError

Stage = Literal["cpt", "sft", "dpo", "grpo"]
STAGES: tuple[str, ...] = ("cpt", "sft", "dpo", "grpo")
#: Preference losses offered: the pairwise loss_type values of trl.DPOTrainer (TRL 1.15) that need no
#: extra settings; TRL computes them.
PREFERENCE_LOSSES: tuple[str, ...] = (
    "sigmoid",
    "hinge",
    "ipo",
    "robust",
    "bco_pair",
    "sppo_hard",
    "apo_zero",
    "apo_down",
    "nca_pair",
    "sigmoid_norm",
)
#: Attention kernels: transformers' own, or hanforge's document-masked kernels (hanforge.train.attention).
ATTENTION_KINDS: tuple[str, ...] = ("auto", "sdpa", "eager", "flash_attention_2", "flex", "varlen")
DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclasses.dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """The model to train and how it is loaded."""

    path: str = ""
    """Hugging Face model folder (config.json + weights). No hub downloads: give a local folder."""
    tokenizer: str = ""
    """Tokenizer folder; empty means the model folder. For an extended vocabulary: the NEW tokenizer."""
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    """Compute/weight dtype; auto = bfloat16 on a GPU that has it, float32 on CPU."""
    finetuning: Literal["lora", "full"] = "lora"
    """LoRA adapters ([lora]) or full fine-tuning of every weight."""
    load_in_4bit: bool = False
    """Load the frozen base in 4 bit (QLoRA). Needs the unsloth backend (CUDA + bitsandbytes)."""
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2", "flex", "varlen"] = "auto"
    """Attention kernel passed to ``from_pretrained(attn_implementation=...)``: transformers' sdpa / eager /
    flash_attention_2, or hanforge's document-masked flex / varlen kernels (hanforge.train.attention);
    auto = the fastest measured one available here, else sdpa."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass."""
    offload_activations: bool = True
    """unsloth only: offload checkpointed activations to CPU memory (its "unsloth" mode): much less
    GPU memory, some speed lost on small models. false = plain checkpointing on the GPU."""
    max_seq_length: int = 4096
    """Longest row the model will see (unsloth's max_seq_length; rows are never longer)."""

    def validate(self) -> None:
        require(bool(self.path), "path", "give the model folder (config.json + weights)")
        require(self.max_seq_length >= 8, "max_seq_length", f"must be >= 8, got {self.max_seq_length}")
        require(
            not (self.load_in_4bit and self.finetuning == "full"),
            "load_in_4bit",
            "4-bit weights cannot be fully fine-tuned; use finetuning = 'lora' (QLoRA)",
        )


@dataclasses.dataclass(frozen=True)
class LoraSettings(ConfigBase):
    """LoRA adapter settings (used when ``model.finetuning = "lora"``)."""

    rank: int = 16
    """Adapter rank r."""
    alpha: float = 32.0
    """Scale numerator: updates are scaled by alpha / r (alpha / sqrt(r) with rsLoRA)."""
    dropout: float = 0.0
    """Dropout on the adapter input (0 keeps unsloth's fast path and makes runs deterministic)."""
    use_rslora: bool = False
    """Rank-stabilised LoRA scaling alpha / sqrt(r)."""
    target_modules: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    """Linear layers that get adapters."""
    train_embeddings: bool = False
    """Also train embed_tokens and lm_head fully (always on when [vocab] extends the vocabulary)."""

    def validate(self) -> None:
        require(self.rank >= 1, "rank", f"must be >= 1, got {self.rank}")
        require(self.alpha > 0, "alpha", f"must be > 0, got {self.alpha}")
        require(0.0 <= self.dropout < 1.0, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(bool(self.target_modules), "target_modules", "name at least one module (e.g. q_proj)")


@dataclasses.dataclass(frozen=True)
class VocabConfig(ConfigBase):
    """Extended vocabulary: EEVE-style initialisation of the new embedding rows."""

    added_tokens: str = ""
    """JSON list of the added token strings (written by ``hanforge tokenizer extend``)."""
    old_tokenizer: str = ""
    """The tokenizer the model was trained with; new rows = mean of its subword embeddings."""

    def validate(self) -> None:
        require(bool(self.added_tokens), "added_tokens", "give the JSON list of added tokens")
        require(bool(self.old_tokenizer), "old_tokenizer", "give the model's original tokenizer folder")


@dataclasses.dataclass(frozen=True)
class OptimConfig(ConfigBase):
    """AdamW and its learning-rate schedule."""

    learning_rate: float = 2e-4
    """Peak learning rate of every trainable weight except embed_tokens / lm_head."""
    embedding_learning_rate: float = 0.0
    """Peak learning rate of embed_tokens / lm_head; 0 means learning_rate / 10."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay (not applied to biases and norms)."""
    beta1: float = 0.9
    """AdamW first-moment decay."""
    beta2: float = 0.95
    """AdamW second-moment decay."""
    eps: float = 1e-8
    """AdamW denominator epsilon."""
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    """Decay after warmup, down to min_lr_ratio * peak."""
    warmup_steps: int = 0
    """Linear warmup from 0 over this many optimizer steps."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a share of the peak (cosine / linear)."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this value; 0 disables clipping (the norm is still logged)."""

    def validate(self) -> None:
        require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        require(
            self.embedding_learning_rate >= 0,
            "embedding_learning_rate",
            f"must be >= 0, got {self.embedding_learning_rate}",
        )
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta1", "beta1 and beta2 must be in [0, 1)")
        require(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        require(self.max_grad_norm >= 0, "max_grad_norm", f"must be >= 0, got {self.max_grad_norm}")

    @property
    def embedding_lr(self) -> float:
        return self.embedding_learning_rate or self.learning_rate / 10


@dataclasses.dataclass(frozen=True)
class DataConfig(ConfigBase):
    """Where each stage reads its data."""

    token_shards: str = ""
    """cpt: a token-shard folder (``hanforge tokenize`` output), read directly (memory-mapped)."""
    instructions: str = ""
    """sft: JSONL or Parquet with instruction/input/output fields or a ``messages`` list."""
    template: Literal["alpaca-ko", "chat"] = "alpaca-ko"
    """sft/dpo prompt format: Korean Alpaca (### 지시사항: / ### 입력: / ### 응답:) or the tokenizer's chat template."""
    preferences: str = ""
    """dpo: JSONL or Parquet with prompt/chosen/rejected fields."""
    prompts: str = ""
    """grpo: JSONL or Parquet with a ``prompt`` field (other fields reach the reward functions as keywords)."""
    max_length: int = 1024
    """sft: row length of the packed SFT token shards; dpo: longest prompt+response (longer are truncated,
    counted); grpo: longest prompt (longer prompts are cut from the left)."""
    shuffle: bool = True
    """Seeded per-epoch shuffle of rows (ResumableSampler)."""

    def validate(self) -> None:
        require(self.max_length >= 8, "max_length", f"must be >= 8, got {self.max_length}")


@dataclasses.dataclass(frozen=True)
class RunConfig(ConfigBase):
    """Batching, length of the run, logging and checkpoints."""

    batch_size: int = 8
    """Rows per micro-batch."""
    grad_accum: int = 1
    """Micro-batches per optimizer step (loss is averaged over all their target tokens)."""
    max_steps: int = 0
    """Optimizer steps; 0 means num_epochs over the data."""
    num_epochs: float = 1.0
    """Passes over the data when max_steps is 0."""
    log_every: int = 10
    """Write a metrics record (JSONL + TensorBoard) every this many steps."""
    save_every: int = 0
    """Checkpoint every this many steps (0: only at the end). A rerun resumes from the newest."""
    keep_checkpoints: int = 2
    """Newest checkpoints kept on disk."""
    tensorboard: bool = True
    """Also write metrics to <output>/tensorboard (needs the tensorboard package)."""
    document_masking: bool = True
    """Packed rows: no attention across document boundaries (block-diagonal; see docs/training.md)."""

    def validate(self) -> None:
        for key in ("batch_size", "grad_accum", "log_every"):
            require(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        require(self.max_steps >= 0, "max_steps", f"must be >= 0, got {self.max_steps}")
        require(self.num_epochs > 0, "num_epochs", f"must be > 0, got {self.num_epochs}")
        require(self.save_every >= 0, "save_every", f"must be >= 0, got {self.save_every}")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", f"must be >= 1, got {self.keep_checkpoints}")


@dataclasses.dataclass(frozen=True)
class PreferenceConfig(ConfigBase):
    """Preference optimisation (stage dpo)."""

    loss_type: Literal[
        "sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "apo_zero", "apo_down", "nca_pair", "sigmoid_norm"
    ] = "sigmoid"
    """sigmoid = DPO; the others are trl.DPOTrainer's pairwise variants (TRL computes them)."""
    beta: float = 0.1
    """Strength of the implicit KL constraint to the reference model."""
    label_smoothing: float = 0.0
    """Assumed share of flipped labels (robust only)."""

    def validate(self) -> None:
        require(self.beta > 0, "beta", f"must be > 0, got {self.beta}")
        require(0 <= self.label_smoothing < 0.5, "label_smoothing", f"must be in [0, 0.5), got {self.label_smoothing}")


@dataclasses.dataclass(frozen=True)
class GrpoConfig(ConfigBase):
    """Online RL with group-relative advantages (stage grpo; trl.GRPOTrainer)."""

    rewards: list[str] = dataclasses.field(default_factory=lambda: ["hanforge.train.rewards:hangul_ratio"])
    """Reward functions as ``module:function`` (TRL's signature: ``f(prompts, completions, **columns) ->
    list[float]``); hanforge ships hangul_ratio, length_target and alpaca_format in hanforge.train.rewards."""
    reward_weights: list[float] = dataclasses.field(default_factory=list)
    """Weight of each reward in the sum; empty = 1.0 each."""
    num_generations: int = 4
    """Completions sampled per prompt (the group whose mean is the baseline)."""
    max_completion_length: int = 64
    """Longest sampled completion in tokens."""
    temperature: float = 1.0
    """Sampling temperature of the completions."""
    beta: float = 0.0
    """KL penalty to the starting model (0 = none, TRL's default; > 0 keeps a reference)."""
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    """How token losses are averaged (TRL's loss_type)."""

    def validate(self) -> None:
        require(bool(self.rewards), "rewards", "name at least one reward function as module:function")
        for spec in self.rewards:
            require(
                spec.count(":") == 1 and all(spec.split(":")),
                "rewards",
                f"{spec!r} is not module:function (e.g. hanforge.train.rewards:hangul_ratio)",
            )
        require(
            not self.reward_weights or len(self.reward_weights) == len(self.rewards),
            "reward_weights",
            f"give one weight per reward ({len(self.rewards)}) or none",
        )
        require(self.num_generations >= 2, "num_generations", f"must be >= 2, got {self.num_generations}")
        require(
            self.max_completion_length >= 1,
            "max_completion_length",
            f"must be >= 1, got {self.max_completion_length}",
        )
        require(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature}")
        require(self.beta >= 0, "beta", f"must be >= 0, got {self.beta}")


@dataclasses.dataclass(frozen=True)
class ExportConfig(ConfigBase):
    """What is written at the end of the run."""

    adapter: bool = True
    """Save the LoRA adapter (<output>/adapter; PEFT format)."""
    merged: bool = True
    """Save merged weights as safetensors (<output>/merged), loadable by plain transformers."""
    merged_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    """dtype of the merged weights."""


@dataclasses.dataclass(frozen=True)
class TrainConfig(ConfigBase):
    """Everything ``hanforge train`` needs; one config shape for cpt, sft, dpo and grpo."""

    output: str = ""
    """Run folder: checkpoints, metrics.jsonl, tensorboard/, adapter/, merged/, summary.json."""
    stage: str = ""
    """cpt, sft, dpo or grpo (may instead come from --stage)."""
    seed: int = 1234
    """Seeds model-side randomness and the data order."""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """[model]: what is trained and how it is loaded."""
    lora: LoraSettings = dataclasses.field(default_factory=LoraSettings)
    """[lora]: adapter settings (model.finetuning = "lora")."""
    vocab: VocabConfig | None = None
    """[vocab]: EEVE init of added tokens (optional)."""
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    """[optim]: AdamW, learning rates and schedule."""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    """[data]: where each stage reads its data."""
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    """[run]: batching, run length, logging, checkpoints."""
    preference: PreferenceConfig = dataclasses.field(default_factory=PreferenceConfig)
    """[preference]: DPO loss (stage dpo)."""
    grpo: GrpoConfig = dataclasses.field(default_factory=GrpoConfig)
    """[grpo]: rewards and sampling (stage grpo)."""
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    """[export]: adapter / merged weights written at the end."""

    def validate(self) -> None:
        require(bool(self.output), "output", "give the run folder")
        require(self.stage in ("",) + STAGES, "stage", f"{self.stage!r} is not one of {', '.join(STAGES)}")
        for sub in (self.model, self.lora, self.optim, self.data, self.run, self.preference, self.grpo):
            sub.validate()
        if self.stage:
            self.check_stage(self.stage)

    def check_stage(self, stage: str) -> None:
        """Raise ConfigError unless the [data] keys that ``stage`` reads are set."""
        require(stage in STAGES, "stage", f"{stage!r} is not one of {', '.join(STAGES)}")
        needed = {"cpt": "token_shards", "sft": "instructions", "dpo": "preferences", "grpo": "prompts"}[stage]
        require(bool(getattr(self.data, needed)), f"data.{needed}", f"stage {stage} reads data.{needed}; set it")

    def with_stage(self, stage: str | None) -> TrainConfig:
        """This config with ``stage`` resolved (argument over file); validated for that stage."""
        if stage and self.stage and stage != self.stage:
            raise ConfigError(f"stage: the config says {self.stage!r} but {stage!r} was asked for")
        resolved = stage or self.stage
        if not resolved:
            raise ConfigError(f"stage: give --stage ({'|'.join(STAGES)}) or stage = ... in the config")
        self.check_stage(resolved)
        return self.merge({"stage": resolved})


def load_train_config(path: str | Path, *, overrides: dict | None = None) -> TrainConfig:
    """Read and validate ``train.toml`` (paths in it are relative to the working directory).

    ``overrides`` is a table merged over the file's, section by section, before validation.
    """
    path = Path(path)
    table = read_toml(path)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            table[section] = {**table.get(section, {}), **values}
        else:
            table[section] = values
    return TrainConfig.from_table(table, where=path.name)
