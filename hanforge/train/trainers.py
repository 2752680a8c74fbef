"""hanforge's parts plugged into transformers' ``Trainer`` and TRL's ``DPOTrainer`` / ``GRPOTrainer``.

Two mixins, through the hooks those classes document for overriding:

* :class:`HanforgeHooks` (every stage): ``create_optimizer`` puts ``embed_tokens``/``lm_head`` in
  their own learning-rate group and keeps weight decay off biases and norms (:func:`param_groups`);
  ``training_step`` counts non-padding tokens into ``state.num_input_tokens_seen`` (checkpointed)
  and sums the step's loss; ``log`` adds ``step_loss``, ``embedding_lr``, ``tokens_per_s``,
  ``num_tokens`` and ``memory_gb`` to each record the callbacks see.
* :class:`ResumableRows` (cpt, sft, dpo): ``_get_train_sampler`` returns the endless
  :class:`~hanforge.train.rows.RowStream` and ``get_train_dataloader`` a plain ``DataLoader`` over
  it (not re-sharded by accelerate: the stream already takes this rank's rows), so a resumed run
  reads exactly the rows the uninterrupted one would have. GRPO keeps TRL's ``RepeatSampler``
  (each prompt repeated ``num_generations`` times across ranks) and the Trainer's own resume.

The classes: :class:`LMTrainer` (cpt/sft on ``transformers.Trainer``, which unsloth patches on a
GPU), :class:`PreferenceTrainer` (``trl.DPOTrainer``) and :class:`RLTrainer` (``trl.GRPOTrainer``).
"""

from __future__ import annotations

import resource
import time
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import Trainer
from trl import DPOTrainer, GRPOTrainer

from hanforge.errors import TrainingError
from hanforge.train.config import TrainConfig
from hanforge.train.rows import RowStream

EMBEDDING_KEYS = ("embed_tokens", "lm_head")


def param_groups(model, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: embed_tokens/lm_head at the embedding LR; no weight decay on biases/norms."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_emb = any(k in name for k in EMBEDDING_KEYS)
        decay = p.ndim >= 2 and not is_emb
        groups.setdefault((is_emb, decay), []).append(p)
    if not groups:
        raise TrainingError("the model has no trainable parameters (check lora.target_modules)")
    out = []
    for (is_emb, decay), params in sorted(groups.items()):
        out.append(
            {
                "params": params,
                "lr": config.optim.embedding_lr if is_emb else config.optim.learning_rate,
                "weight_decay": config.optim.weight_decay if decay else 0.0,
                "name": ("embeddings" if is_emb else "weights") + ("" if decay else "_no_decay"),
            }
        )
    return out


def peak_memory_gb() -> float:
    """Peak GPU memory allocated by torch, or this process's peak resident memory on CPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


class HanforgeHooks:
    """Optimizer groups, token counts and extra log fields (see the module docstring)."""

    hanforge_config: TrainConfig

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            opt = self.hanforge_config.optim
            self.optimizer = torch.optim.AdamW(
                param_groups(model if model is not None else self.model, self.hanforge_config),
                lr=opt.learning_rate,
                betas=(opt.beta1, opt.beta2),
                eps=opt.eps,
            )
        return self.optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        if getattr(self, "_loss_step", None) != self.state.global_step:
            self._loss_step, self._step_loss = self.state.global_step, 0.0
        num_tokens = inputs.pop("num_tokens", None) if isinstance(inputs, dict) else None
        if num_tokens is None and isinstance(inputs, dict) and "attention_mask" in inputs:
            num_tokens = inputs["attention_mask"].sum()
        loss = super().training_step(model, inputs, num_items_in_batch)
        if num_tokens is not None:
            self.state.num_input_tokens_seen += int(num_tokens)
        self._step_loss += float(loss)
        return loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.model.training:
            now = time.perf_counter()
            seen = int(self.state.num_input_tokens_seen)
            last_t, last_seen = getattr(self, "_log_window", (None, None))
            if last_t is None:
                last_t, last_seen = self._hanforge_t0, self._hanforge_tokens0
            logs["step_loss"] = self._step_loss
            logs["num_tokens"] = seen
            logs["tokens_per_s"] = (seen - last_seen) / max(now - last_t, 1e-9)
            logs["memory_gb"] = peak_memory_gb()
            for group in self.optimizer.param_groups:
                if group.get("name", "").startswith("embeddings"):
                    logs["embedding_lr"] = group["lr"]
            self._log_window = (now, seen)
        super().log(logs, start_time)

    def train(self, *args, **kwargs):
        self._hanforge_t0, self._hanforge_tokens0 = time.perf_counter(), 0
        self._log_window = (None, None)
        return super().train(*args, **kwargs)

    def _load_optimizer_and_scheduler(self, checkpoint):
        # transformers 5.17 maps the optimizer state to args.device when world_size > 1; on CPU that is
        # torch.device("cpu", 0), which torch.load cannot restore to ("don't know how to restore data
        # location ... cpu:0"). Several CPU processes (gloo) load it to "cpu" instead, the same way.
        if checkpoint is None or self.args.world_size == 1 or self.args.device.type != "cpu":
            return super()._load_optimizer_and_scheduler(checkpoint)
        import os

        from transformers.trainer import OPTIMIZER_NAME, SCHEDULER_NAME

        if not os.path.isfile(os.path.join(checkpoint, OPTIMIZER_NAME)):
            return super()._load_optimizer_and_scheduler(checkpoint)
        self.optimizer.load_state_dict(
            torch.load(os.path.join(checkpoint, OPTIMIZER_NAME), map_location="cpu", weights_only=True)
        )
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))
        return None

    def _load_rng_state(self, checkpoint):
        super()._load_rng_state(checkpoint)  # the run's throughput window starts after the reload
        self._hanforge_tokens0 = int(self.state.num_input_tokens_seen)


class ResumableRows:
    """Row order from :class:`~hanforge.train.rows.RowStream` (see the module docstring)."""

    hanforge_config: TrainConfig

    def _rows_consumed(self) -> int:
        args = self.args
        return self.state.global_step * args.per_device_train_batch_size * args.gradient_accumulation_steps

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return RowStream(
            len(dataset),
            seed=self.hanforge_config.seed,
            shuffle=self.hanforge_config.data.shuffle,
            rank=self.args.process_index,
            world_size=self.args.world_size,
            start=self._rows_consumed,
        )

    def get_train_dataloader(self) -> DataLoader:
        dataset = self.train_dataset
        if dataset is None:
            raise TrainingError("training needs a dataset")
        collator = self.data_collator
        try:
            import datasets

            if isinstance(dataset, datasets.Dataset):
                dataset = self._remove_unused_columns(dataset, description="Training")
        except ImportError:
            pass
        generator = torch.Generator().manual_seed(self.hanforge_config.seed)  # the global RNG is never drawn from
        return DataLoader(
            dataset,
            batch_size=self._train_batch_size,
            sampler=self._get_train_sampler(dataset),
            collate_fn=collator,
            num_workers=0,
            pin_memory=self.args.dataloader_pin_memory and torch.cuda.is_available(),
            generator=generator,
        )


class LMTrainer(HanforgeHooks, ResumableRows, Trainer):
    """Causal-LM loss on packed token-shard rows (stages cpt and sft)."""


class PreferenceTrainer(HanforgeHooks, ResumableRows, DPOTrainer):
    """trl.DPOTrainer with hanforge's optimizer groups, row order and metrics (stage dpo)."""


class RLTrainer(HanforgeHooks, GRPOTrainer):
    """trl.GRPOTrainer with hanforge's optimizer groups and metrics (stage grpo)."""
