"""``hanforge train``: one entry point that builds a transformers/TRL trainer for the stage and runs it.

:func:`build_trainer` turns a :class:`~hanforge.train.config.TrainConfig` into a ready trainer
(:class:`BuiltTrainer`; benchmarks time ``built.trainer.train()`` directly):

* **cpt / sft**: :class:`~hanforge.train.trainers.LMTrainer` (``transformers.Trainer``, patched by
  unsloth on a GPU) on packed token-shard rows, :class:`~hanforge.shards.TokenShardDataset` for
  cpt and the SFT shards built by :func:`~hanforge.train.data.build_sft_shards` (Korean Alpaca or
  chat template, loss on responses only) for sft; batches from
  :class:`~hanforge.train.rows.PackedRowsCollator` (document masking, see there).
* **dpo**: :class:`~hanforge.train.trainers.PreferenceTrainer` (``trl.DPOTrainer``; the
  ``[preference]`` loss_type, beta and label smoothing are TRL's).
* **grpo**: :class:`~hanforge.train.trainers.RLTrainer` (``trl.GRPOTrainer``) with the reward
  functions of ``[grpo] rewards`` (``module:function``; :mod:`hanforge.train.rewards`).

:func:`train` adds what a run folder needs around ``trainer.train()``: resume from the newest
*complete* checkpoint of the same config (:mod:`hanforge.train.callbacks`), metrics.jsonl /
TensorBoard, a time-boxed stop (``max_steps_this_run``), the export and summary.json.

Layout of ``<output>``: ``checkpoints/checkpoint-N`` (the Trainer's own checkpoints plus
``hanforge.json``), ``metrics.jsonl``, ``tensorboard/``, ``data/`` (sft shards), ``adapter/``,
``merged/``, ``train_config.json``, ``summary.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hanforge.atomic import atomic_write_json
from hanforge.errors import ConfigError, TrainingError
from hanforge.train.backend import Backend, choose_backend, load_model, lora_config
from hanforge.train.checkpoint import (
    MARKER,
    checkpoint_step,
    complete_checkpoints,
    resume_fingerprint,
    unfinished_checkpoints,
)
from hanforge.train.config import OptimConfig, TrainConfig


@dataclasses.dataclass
class TrainSummary:
    """What a :func:`train` call did."""

    stage: str
    backend: str
    output: str
    steps: int
    """Optimizer steps done in total (resumed ones included)."""
    total_steps: int
    completed: bool
    """True when ``total_steps`` were reached (and the export ran)."""
    resumed_from: int
    """Step the run resumed from (0: fresh)."""
    num_tokens: int
    """Non-padding tokens trained on in this call (cpt/sft/dpo; grpo: 0)."""
    seconds: float
    tokens_per_s: float
    first_loss: float | None
    last_loss: float | None
    peak_memory_gb: float
    model_info: dict[str, Any]
    exported: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class BuiltTrainer:
    """A trainer ready to run, and what :func:`train` needs around it."""

    trainer: Any
    """LMTrainer, PreferenceTrainer or RLTrainer (a transformers.Trainer)."""
    config: TrainConfig
    backend: Backend
    tokenizer: Any
    model_info: dict[str, Any]
    total_steps: int
    fingerprint: str
    resume_from: Path | None
    """Newest complete checkpoint of this config in the run folder (None: a fresh start)."""


def is_main_process() -> bool:
    """Rank 0 of a torchrun/accelerate launch (or a single process)."""
    return int(os.environ.get("RANK", "0")) == 0


def scheduler_settings(optim: OptimConfig, total_steps: int) -> dict[str, Any]:
    """TrainingArguments keys of the LR schedule: linear warmup, then decay to ``min_lr_ratio`` * peak."""
    warmup = {"warmup_steps": optim.warmup_steps}
    if optim.schedule == "constant":
        return {**warmup, "lr_scheduler_type": "constant_with_warmup"}
    if optim.schedule == "cosine":
        return {
            **warmup,
            "lr_scheduler_type": "cosine_with_min_lr",
            "lr_scheduler_kwargs": {"min_lr_rate": optim.min_lr_ratio},
        }
    return {  # linear: transformers' warmup-stable-decay with no stable phase
        **warmup,
        "lr_scheduler_type": "warmup_stable_decay",
        "lr_scheduler_kwargs": {
            "num_decay_steps": max(1, total_steps - optim.warmup_steps),
            "decay_type": "linear",
            "min_lr_ratio": optim.min_lr_ratio,
        },
    }


def training_arguments(config: TrainConfig, *, total_steps: int, out: Path, backend: Backend, progress: bool):
    """Keyword arguments shared by TrainingArguments, DPOConfig and GRPOConfig."""
    run, optim = config.run, config.optim
    return {
        "output_dir": str(out / "checkpoints"),
        "per_device_train_batch_size": run.batch_size,
        "gradient_accumulation_steps": run.grad_accum,
        "max_steps": total_steps,
        "learning_rate": optim.learning_rate,
        "weight_decay": optim.weight_decay,
        "adam_beta1": optim.beta1,
        "adam_beta2": optim.beta2,
        "adam_epsilon": optim.eps,
        "max_grad_norm": optim.max_grad_norm,
        **scheduler_settings(optim, total_steps),
        "logging_steps": run.log_every,
        "save_strategy": "steps" if run.save_every else "no",
        "save_steps": run.save_every or 500,
        "save_total_limit": run.keep_checkpoints,
        "seed": config.seed,
        "report_to": "none",
        "disable_tqdm": not progress,
        "include_num_input_tokens_seen": "no",  # counted by HanforgeHooks (non-padding tokens)
        "use_cpu": backend.device.type == "cpu",
        "dataloader_pin_memory": backend.device.type == "cuda",
        "gradient_checkpointing": False,  # set up by load_model on both backends
    }


def _total_steps(config: TrainConfig, num_rows: int, *, rows_per_step: int) -> int:
    return config.run.max_steps or max(1, math.ceil(config.run.num_epochs * num_rows / rows_per_step))


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _resume_point(out: Path, fingerprint: str) -> Path | None:
    """The newest complete checkpoint; unfinished ones (no marker: cut off by a kill) are removed."""
    if is_main_process():
        for unfinished in unfinished_checkpoints(out / "checkpoints"):
            shutil.rmtree(unfinished)
    found = complete_checkpoints(out / "checkpoints")
    if not found:
        return None
    marker = json.loads((found[-1] / MARKER).read_text(encoding="utf-8"))
    if marker.get("config_fingerprint") != fingerprint:
        raise TrainingError(
            f"{found[-1]}: checkpoint of a different config (model/data/optimizer/batch changed); "
            "use a new output folder or restore the config"
        )
    return found[-1]


def build_trainer(
    config: TrainConfig,
    *,
    stage: str | None = None,
    backend: str = "auto",
    dataset=None,
    max_steps_this_run: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> BuiltTrainer:
    """Load the model, build the stage's data and trainer, find the checkpoint to resume from.

    ``dataset``: cpt/sft only, a map-style dataset yielding TokenShardDataset-like items used
    instead of ``[data]`` (benchmarks: in-memory rows). ``max_steps_this_run``: stop (with a
    checkpoint) after this many steps in the coming ``train()`` call.
    """
    config = config.with_stage(stage)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    be = choose_backend(backend, dtype=config.model.dtype)
    log(be.reason)
    stage = config.stage
    if stage in ("dpo", "grpo"):
        from hanforge.train.trl_torch_head import install_if_missing

        install_if_missing(log)
    trl_wraps_lora = stage in ("dpo", "grpo") and be.name == "transformers" and config.model.finetuning == "lora"
    model, tokenizer, model_info = load_model(config, be, wrap_lora=not trl_wraps_lora)
    peft_config = None
    if trl_wraps_lora:
        peft_config = lora_config(config, tied=bool(getattr(model.config, "tie_word_embeddings", False)))

    from hanforge.train.callbacks import CheckpointMarker, MetricsCallback, StopAfter

    fingerprint = resume_fingerprint(config)
    resume_from = _resume_point(out, fingerprint)
    callbacks = [MetricsCallback(out, tensorboard=config.run.tensorboard, log=log), CheckpointMarker(fingerprint)]
    if max_steps_this_run is not None:
        start = checkpoint_step(resume_from) if resume_from else 0
        callbacks.append(StopAfter(start + max_steps_this_run))
    rows_per_step = config.run.batch_size * config.run.grad_accum * _world_size()
    if stage in ("cpt", "sft"):
        from transformers import TrainingArguments

        from hanforge.train.rows import PackedRowsCollator
        from hanforge.train.trainers import LMTrainer

        train_ds, data_info = _lm_dataset(config, tokenizer, out, dataset, log)
        total_steps = _total_steps(config, len(train_ds), rows_per_step=rows_per_step)
        ta = training_arguments(config, total_steps=total_steps, out=out, backend=be, progress=progress)
        args = TrainingArguments(**ta, remove_unused_columns=False, ignore_data_skip=True)
        collator = PackedRowsCollator(
            document_masking=config.run.document_masking, flatten=be.name == "unsloth" and config.run.document_masking
        )
        trainer_cls, kwargs = LMTrainer, {"data_collator": collator, "processing_class": tokenizer}
    elif stage == "dpo":
        from trl import DPOConfig

        from hanforge.train.data import preference_dataset
        from hanforge.train.trainers import PreferenceTrainer

        train_ds, data_info = preference_dataset(
            config.data.preferences,
            tokenizer=tokenizer,
            template=config.data.template,
            max_length=config.data.max_length,
        )
        total_steps = _total_steps(config, len(train_ds), rows_per_step=rows_per_step)
        ta = training_arguments(config, total_steps=total_steps, out=out, backend=be, progress=progress)
        pref = config.preference
        args = DPOConfig(
            **ta,
            ignore_data_skip=True,
            beta=pref.beta,
            loss_type=[pref.loss_type],
            label_smoothing=pref.label_smoothing,
            max_length=config.data.max_length,
        )
        ref = None
        if config.model.finetuning == "full":  # the reference: a frozen copy of the starting weights
            ref = copy.deepcopy(model).eval().requires_grad_(False)
        trainer_cls = PreferenceTrainer
        kwargs = {"ref_model": ref, "processing_class": tokenizer, "peft_config": peft_config}
    else:
        from trl import GRPOConfig

        from hanforge.train.data import prompt_dataset
        from hanforge.train.rewards import load_rewards
        from hanforge.train.trainers import RLTrainer

        g = config.grpo
        if (config.run.batch_size * config.run.grad_accum * _world_size()) % g.num_generations:
            raise ConfigError(
                f"grpo.num_generations: {g.num_generations} must divide run.batch_size * run.grad_accum * processes "
                f"({config.run.batch_size} * {config.run.grad_accum} * {_world_size()})"
            )
        rewards = load_rewards(g.rewards)
        train_ds, data_info = prompt_dataset(config.data.prompts, tokenizer=tokenizer, template=config.data.template)
        completions = len(train_ds) * g.num_generations
        total_steps = _total_steps(config, completions, rows_per_step=rows_per_step)
        ta = training_arguments(config, total_steps=total_steps, out=out, backend=be, progress=progress)
        args = GRPOConfig(
            **ta,
            num_generations=g.num_generations,
            max_completion_length=g.max_completion_length,
            temperature=g.temperature,
            beta=g.beta,
            loss_type=g.loss_type,
            reward_weights=list(g.reward_weights) or None,
            shuffle_dataset=config.data.shuffle,
        )
        trainer_cls = RLTrainer
        kwargs = {"reward_funcs": rewards, "processing_class": tokenizer, "peft_config": peft_config}
    trainer = trainer_cls(model=model, args=args, train_dataset=train_ds, callbacks=callbacks, **kwargs)
    trainer.hanforge_config = config
    if not progress:
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # metrics.jsonl has the records
    model_info["data"] = data_info
    trained = trainer.model
    model_info["num_trainable_params"] = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    model_info["num_params"] = sum(p.numel() for p in trained.parameters())
    return BuiltTrainer(trainer, config, be, tokenizer, model_info, total_steps, fingerprint, resume_from)


def _lm_dataset(config: TrainConfig, tokenizer, out: Path, dataset, log: Callable[[str], None]):
    """``(dataset, data_info)`` of packed rows for cpt / sft."""
    if dataset is not None:
        return dataset, {"source": "in-memory dataset given to train()"}
    from hanforge.shards import TokenShardDataset
    from hanforge.train.data import build_sft_shards

    if config.stage == "sft":
        folder, manifest = build_sft_shards(
            instructions=config.data.instructions,
            template=config.data.template,
            tokenizer=tokenizer,
            max_length=config.data.max_length,
            output=out / "data" / "sft-tokens",
        )
        log(
            f"sft data: {manifest['num_docs']} examples packed into {manifest['num_rows']} rows of "
            f"{manifest['seq_len']} ({manifest['num_truncated_docs']} truncated)"
        )
    else:
        folder = Path(config.data.token_shards)
    ds = TokenShardDataset(folder)
    info = {
        "token_shards": str(folder),
        "num_rows": len(ds),
        "seq_len": ds.seq_len,
        "num_tokens": int(ds.manifest.get("num_tokens", 0)),
    }
    return ds, info


def train(
    config: TrainConfig,
    *,
    stage: str | None = None,
    backend: str = "auto",
    dataset=None,
    max_steps_this_run: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainSummary:
    """Train ``config`` for ``stage`` (cpt | sft | dpo | grpo); resume from the newest checkpoint in the output.

    ``backend``: auto | unsloth | transformers (auto = unsloth on a CUDA GPU when installed).
    ``dataset``: cpt/sft, a map-style dataset of TokenShardDataset-like items used instead of
    ``[data]``. ``max_steps_this_run``: stop (with a checkpoint) after this many steps in this call,
    for time-boxed jobs; the next call resumes. Returns a :class:`TrainSummary` (also written to
    ``<output>/summary.json``).
    """
    from hanforge.train.export import export_model
    from hanforge.train.trainers import peak_memory_gb

    config = config.with_stage(stage)
    out = Path(config.output)
    own_logits_flag = config.stage == "dpo" and "UNSLOTH_RETURN_LOGITS" not in os.environ
    if own_logits_flag:  # unsloth returns no logits in training unless asked; DPO reads them
        os.environ["UNSLOTH_RETURN_LOGITS"] = "1"
    try:
        built = build_trainer(
            config, backend=backend, dataset=dataset, max_steps_this_run=max_steps_this_run, progress=progress, log=log
        )
        if is_main_process():
            atomic_write_json(out / "train_config.json", config.to_dict())
        done = _finished_summary(out, built.fingerprint, built.total_steps)
        if done is not None:
            log(f"{out}: this run is already complete ({built.total_steps} steps); nothing to do")
            return done
        start_step = checkpoint_step(built.resume_from) if built.resume_from else 0
        if built.resume_from:
            log(f"resuming from {built.resume_from.name} (step {start_step} of {built.total_steps})")
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        trainer = built.trainer
        tokens_before = _marker_tokens(built.resume_from)
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(built.resume_from) if built.resume_from else None)
        seconds = time.perf_counter() - t0
        state = trainer.state
        losses = [r["step_loss"] for r in state.log_history if "step_loss" in r and r["step"] > start_step]
        num_tokens = int(state.num_input_tokens_seen) - tokens_before
        completed = state.global_step >= built.total_steps
        exported: dict[str, str] = {}
        if completed and is_main_process():
            exported = export_model(trainer.model, built.tokenizer, config=config, backend=built.backend, output=out)
        summary = TrainSummary(
            stage=config.stage,
            backend=built.backend.name,
            output=str(out),
            steps=state.global_step,
            total_steps=built.total_steps,
            completed=completed,
            resumed_from=start_step,
            num_tokens=num_tokens,
            seconds=round(seconds, 3),
            tokens_per_s=num_tokens / seconds if seconds > 0 else 0.0,
            first_loss=losses[0] if losses else None,
            last_loss=losses[-1] if losses else None,
            peak_memory_gb=round(peak_memory_gb(), 3),
            model_info=built.model_info,
            exported=exported,
        )
        if is_main_process():
            atomic_write_json(out / "summary.json", {**summary.to_dict(), "config_fingerprint": built.fingerprint})
        return summary
    finally:
        if own_logits_flag:
            os.environ.pop("UNSLOTH_RETURN_LOGITS", None)


def _marker_tokens(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    return int(json.loads((checkpoint / MARKER).read_text(encoding="utf-8")).get("num_tokens", 0))


def _finished_summary(out: Path, fingerprint: str, total_steps: int) -> TrainSummary | None:
    """The summary of a completed run of the same config in ``out``, else None."""
    path = out / "summary.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if (
        data.pop("config_fingerprint", None) != fingerprint
        or not data.get("completed")
        or data.get("total_steps") != total_steps
    ):
        return None
    return TrainSummary(**data)
