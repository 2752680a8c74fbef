"""The one trainer of ``hanforge train``: CPT, SFT and preference optimisation in one loop.

:func:`train` loads the model on the chosen backend (:mod:`hanforge.train.backend`), builds the
stage's dataset (:mod:`hanforge.train.data`), and runs a compact AdamW loop whose only
stage-specific part is the loss of a micro-batch (:func:`lm_loss` for cpt/sft, :func:`dpo_loss`
for dpo). A compact loop rather than ``transformers.Trainer``/TRL because it reads the token
shards with the project's ``ResumableSampler`` (exact data position in checkpoints), puts
embed_tokens/lm_head in their own lower-learning-rate group, flattens packed rows for unsloth's
varlen attention, and keeps one checkpoint/metrics format for all stages.

Packed rows and attention (``run.document_masking``):

* transformers backend (CPU, or GPU without unsloth): rows go in as ``[B, S]`` with
  ``position_ids`` restarting at each document and **no** ``attention_mask``; transformers 5
  (``masking_utils.find_packed_sequence_indices``) then builds a block-diagonal causal mask for
  eager/sdpa (a dense ``[B, 1, S, S]`` mask: sdpa runs its masked kernel, not flash) and uses
  varlen kernels for flash_attention_2. No token attends across a document boundary. This needs
  ``use_cache=False`` (with a KV cache transformers skips the detection), which the trainer passes.
* unsloth backend: the batch is flattened to ``[1, B*S]`` and ``packed_seq_lengths`` (the
  segment lengths) is passed, so unsloth runs varlen attention (flash-attn varlen when
  installed, else torch varlen / per-segment SDPA); each row start is a segment start.
* ``document_masking = false``: plain causal attention over the whole row (documents see their
  predecessors in the row), positions counting through the row.
* In every case no token is *predicted* across documents: the loader sets label -100 at every
  segment start (and the trainer at each row start).

Checkpoints (:mod:`hanforge.train.checkpoint`) hold the trainable weights, optimizer, scheduler,
sampler position and RNG states; a rerun of the same command resumes from the newest one and
reproduces the uninterrupted loss curve.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hanforge.atomic import atomic_write_json
from hanforge.errors import TrainingError
from hanforge.shards.token_format import IGNORE_INDEX
from hanforge.train.backend import Backend, choose_backend, load_model
from hanforge.train.checkpoint import checkpoint_dirs, load_checkpoint, resume_fingerprint, save_checkpoint
from hanforge.train.config import TrainConfig

EMBEDDING_KEYS = ("embed_tokens", "lm_head")


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
    """Non-padding tokens trained on in this call."""
    seconds: float
    tokens_per_s: float
    first_loss: float | None
    last_loss: float | None
    peak_memory_gb: float
    model_info: dict[str, Any]
    exported: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------- losses


def lm_inputs(batch: dict[str, torch.Tensor], *, backend: Backend, document_masking: bool) -> dict[str, torch.Tensor]:
    """Forward kwargs for a packed batch (``labels`` included); see the module docstring."""
    labels = batch["labels"].clone()
    labels[:, 0] = IGNORE_INDEX  # never predict a row's first token (matters once rows are flattened)
    if not document_masking:
        return {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "labels": labels,
            "use_cache": False,
        }
    if backend.name == "unsloth":
        pos = batch["position_ids"].reshape(1, -1)
        starts = torch.nonzero(pos[0] == 0).flatten()
        lengths = torch.diff(starts, append=torch.tensor([pos.shape[1]], device=pos.device))
        return {
            "input_ids": batch["input_ids"].reshape(1, -1),
            "position_ids": pos,
            "labels": labels.reshape(1, -1),
            "packed_seq_lengths": lengths.to(torch.int32),
            "use_cache": False,
        }
    # use_cache=False matters: with a KV cache transformers skips the packed-sequence detection
    return {
        "input_ids": batch["input_ids"],
        "position_ids": batch["position_ids"],
        "labels": labels,
        "use_cache": False,
    }


def lm_loss(
    model, batch: dict[str, torch.Tensor], *, backend: Backend, document_masking: bool
) -> tuple[torch.Tensor, int, dict[str, float]]:
    """Causal-LM loss of one packed micro-batch (mean over its target tokens) and their number."""
    kwargs = lm_inputs(batch, backend=backend, document_masking=document_masking)
    num_targets = int((kwargs["labels"] != IGNORE_INDEX).sum())
    if num_targets == 0:
        return torch.zeros((), device=batch["input_ids"].device), 0, {}
    return model(**kwargs).loss, num_targets, {}


def sequence_logps(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log-probabilities of the completion tokens of each row (float32)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    mask = batch["completion_mask"][:, 1:].to(logits.dtype)
    token_logps = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logps * mask).sum(-1)


def preference_loss(
    loss_type: str,
    *,
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    chosen_len: torch.Tensor | None = None,
    rejected_len: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-pair loss; formulas as in ``trl.DPOTrainer._compute_loss`` (TRL 1.15, reverse-KL scores)."""
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta)
    if loss_type == "hinge":
        return torch.relu(1 - beta * delta)
    if loss_type == "ipo":  # length-normalised, as TRL does
        d = chosen_logratios / chosen_len.clamp(min=1) - rejected_logratios / rejected_len.clamp(min=1)
        return (d - 1 / (2 * beta)) ** 2
    if loss_type == "robust":
        return (-(1 - label_smoothing) * F.logsigmoid(beta * delta) + label_smoothing * F.logsigmoid(-beta * delta)) / (
            1 - 2 * label_smoothing
        )
    if loss_type == "bco_pair":
        return -F.logsigmoid(beta * chosen_logratios) - F.logsigmoid(-beta * rejected_logratios)
    if loss_type == "sppo_hard":
        return (chosen_logratios - 0.5 / beta) ** 2 + (rejected_logratios + 0.5 / beta) ** 2
    if loss_type == "apo_zero":
        return (1 - torch.sigmoid(beta * chosen_logratios)) + torch.sigmoid(beta * rejected_logratios)
    raise TrainingError(f"preference.loss_type {loss_type!r} is not supported")


def dpo_loss(
    model, batch: dict[str, torch.Tensor], *, config: TrainConfig, reference: Callable
) -> tuple[torch.Tensor, int, dict[str, float]]:
    """Preference loss of one micro-batch (rows: chosen then rejected); weight = number of pairs."""
    logps = sequence_logps(model, batch)
    with torch.no_grad(), reference() as ref_model:
        ref_logps = sequence_logps(ref_model, batch)
    chosen, rejected = logps.chunk(2)
    ref_chosen, ref_rejected = ref_logps.chunk(2)
    lens = batch["completion_mask"][:, 1:].sum(-1).float()
    chosen_len, rejected_len = lens.chunk(2)
    cl, rl = chosen - ref_chosen, rejected - ref_rejected
    margin = (cl - rl).detach()
    pref = config.preference
    per_pair = preference_loss(
        pref.loss_type,
        chosen_logratios=cl,
        rejected_logratios=rl,
        beta=pref.beta,
        label_smoothing=pref.label_smoothing,
        chosen_len=chosen_len,
        rejected_len=rejected_len,
    )
    extra = {"reward_accuracy": float((margin > 0).float().mean()), "reward_margin": float(pref.beta * margin.mean())}
    return per_pair.mean(), int(chosen.shape[0]), extra


# ------------------------------------------------------------------------------ optimizer, lr


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


def lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak LR at optimizer step ``s`` (warmup, then cosine/linear/constant)."""
    opt = config.optim

    def factor(step: int) -> float:
        if step < opt.warmup_steps:
            return (step + 1) / opt.warmup_steps
        if opt.schedule == "constant":
            return 1.0
        span = max(1, total_steps - opt.warmup_steps)
        progress = min(1.0, (step - opt.warmup_steps) / span)
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if opt.schedule == "cosine" else 1 - progress
        return opt.min_lr_ratio + (1 - opt.min_lr_ratio) * shape

    return factor


# --------------------------------------------------------------------------------------- data


class _IndexStream:
    """Endless index stream over a ResumableSampler (epoch after epoch); position = sampler state."""

    def __init__(self, sampler) -> None:
        self.sampler = sampler
        self._it = iter(sampler)

    def take(self, n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            try:
                out.append(next(self._it))
            except StopIteration:
                self._it = iter(self.sampler)
        return out


def _build_dataset(config: TrainConfig, tokenizer, out: Path, dataset, log: Callable[[str], None]):
    """``(dataset, collate, data_info)`` for the stage."""
    from torch.utils.data import default_collate

    from hanforge.train.data import PreferenceDataset, build_sft_shards

    stage = config.stage
    if dataset is not None:
        collate = getattr(dataset, "collate", default_collate)
        return dataset, collate, {"source": "in-memory dataset given to train()"}
    if stage == "dpo":
        ds = PreferenceDataset(
            config.data.preferences,
            tokenizer=tokenizer,
            template=config.data.template,
            max_length=config.data.max_length,
        )
        return ds, ds.collate, {"num_pairs": len(ds), "num_truncated": ds.num_truncated}
    from hanforge.shards import TokenShardDataset

    if stage == "sft":
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
    return (
        ds,
        default_collate,
        {
            "token_shards": str(folder),
            "num_rows": len(ds),
            "seq_len": ds.seq_len,
            "num_tokens": int(ds.manifest.get("num_tokens", 0)),
        },
    )


# ----------------------------------------------------------------------------------- metrics


class _MetricsLog:
    """metrics.jsonl (append) and TensorBoard scalars."""

    def __init__(self, out: Path, *, tensorboard: bool, start_step: int, log: Callable[[str], None]) -> None:
        self.path = out / "metrics.jsonl"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log("tensorboard is not installed: metrics go to metrics.jsonl only (pip install tensorboard)")
            else:
                self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=start_step + 1 if start_step else None)

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
        if self.writer is not None and "step" in record:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    if device.type == "cpu":
        return batch
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


# ------------------------------------------------------------------------------------- train


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
    """Train ``config`` for ``stage`` (cpt | sft | dpo); resume from the newest checkpoint in the output.

    ``backend``: auto | unsloth | transformers (auto = unsloth on a CUDA GPU when installed).
    ``dataset``: a map-style dataset yielding the same items as the stage's own (a
    TokenShardDataset-like dict of ``input_ids``/``labels``/``position_ids``/``attention_mask``),
    used instead of ``[data]`` (benchmarks: synthetic in-memory batches).
    ``max_steps_this_run``: stop (with a checkpoint) after this many steps in this call, for
    time-boxed jobs; the next call resumes. Returns a :class:`TrainSummary` (also written to
    ``<output>/summary.json``).
    """
    from tqdm.auto import tqdm

    from hanforge.shards import ResumableSampler
    from hanforge.train.export import export_model

    config = config.with_stage(stage)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "train_config.json", config.to_dict())
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    be = choose_backend(backend, dtype=config.model.dtype)
    log(be.reason)
    # unsloth returns no logits in training unless asked (read at each forward): DPO needs them
    own_logits_flag = config.stage == "dpo" and "UNSLOTH_RETURN_LOGITS" not in os.environ
    if own_logits_flag:
        os.environ["UNSLOTH_RETURN_LOGITS"] = "1"
    model, tokenizer, model_info = load_model(config, be)
    ds, collate, data_info = _build_dataset(config, tokenizer, out, dataset, log)
    model_info["data"] = data_info
    rows_seen = config.run.batch_size * config.run.grad_accum
    total_steps = config.run.max_steps or max(1, math.ceil(config.run.num_epochs * len(ds) / rows_seen))
    sampler = ResumableSampler(ds, seed=config.seed, shuffle=config.data.shuffle)
    optimizer = torch.optim.AdamW(
        param_groups(model, config), betas=(config.optim.beta1, config.optim.beta2), eps=config.optim.eps
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config, total_steps))
    fingerprint = resume_fingerprint(config)
    done = _finished_summary(out, fingerprint, total_steps)
    if done is not None:
        log(f"{out}: this run is already complete ({total_steps} steps); nothing to do")
        if own_logits_flag:
            os.environ.pop("UNSLOTH_RETURN_LOGITS", None)
        return done
    start_step = 0
    num_tokens_before = 0
    checkpoints = checkpoint_dirs(out)
    if checkpoints:
        state = load_checkpoint(
            checkpoints[-1],
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            sampler=sampler,
            fingerprint=fingerprint,
        )
        start_step = int(state["step"])
        num_tokens_before = int(state.get("num_tokens", 0))
        log(f"resuming from {checkpoints[-1].name} (step {start_step} of {total_steps})")
    stream = _IndexStream(sampler)
    metrics = _MetricsLog(out, tensorboard=config.run.tensorboard, start_step=start_step, log=log)
    if start_step:
        metrics.write({"event": "resume", "from_step": start_step})
    else:
        metrics.path.write_text("", encoding="utf-8")  # a fresh start: records of an unfinished earlier try go

    reference = _reference_factory(model, config)
    model.train()
    device = be.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stop_at = total_steps if max_steps_this_run is None else min(total_steps, start_step + max_steps_this_run)
    bar = tqdm(total=total_steps, initial=start_step, disable=not progress, desc=f"train {config.stage}", unit="step")
    t_start = time.perf_counter()
    t_window, tokens_window, tokens_run = t_start, 0, 0
    window_losses: list[float] = []
    first_loss = last_loss = None
    step = start_step
    while step < stop_at:
        micro = [collate([ds[i] for i in stream.take(config.run.batch_size)]) for _ in range(config.run.grad_accum)]
        micro = [_to_device(b, device) for b in micro]
        total_weight = _expected_weight(micro, config)
        step_loss = 0.0
        step_extra: dict[str, float] = {}
        for batch in micro:
            if config.stage == "dpo":
                loss, weight, extra = dpo_loss(model, batch, config=config, reference=reference)
            else:
                loss, weight, extra = lm_loss(model, batch, backend=be, document_masking=config.run.document_masking)
            for k, v in extra.items():
                step_extra[k] = step_extra.get(k, 0.0) + v / len(micro)
            if weight:  # backward per micro-batch; the step loss is the mean over all its targets
                (loss * (weight / total_weight)).backward()
                step_loss += float(loss.detach()) * weight / total_weight
        params = [p for g in optimizer.param_groups for p in g["params"]]
        max_norm = config.optim.max_grad_norm or float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        batch_tokens = sum(int(b["attention_mask"].sum()) for b in micro)
        tokens_window += batch_tokens
        tokens_run += batch_tokens
        window_losses.append(step_loss)
        first_loss = step_loss if first_loss is None else first_loss
        last_loss = step_loss
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{optimizer.param_groups[-1]['lr']:.2e}")
        if step % config.run.log_every == 0 or step == stop_at:
            now = time.perf_counter()
            record = {
                "step": step,
                "loss": sum(window_losses) / len(window_losses),
                "step_loss": step_loss,
                "grad_norm": grad_norm,
                "lr": max(g["lr"] for g in optimizer.param_groups),
                "tokens_per_s": tokens_window / max(now - t_window, 1e-9),
                "num_tokens": num_tokens_before + tokens_run,
                "memory_gb": _peak_memory_gb(device),
                **step_extra,
            }
            if any(g["name"].startswith("embeddings") for g in optimizer.param_groups):
                record["embedding_lr"] = next(
                    g["lr"] for g in optimizer.param_groups if g["name"].startswith("embeddings")
                )
            metrics.write(record)
            t_window, tokens_window, window_losses = now, 0, []
        save_due = config.run.save_every and step % config.run.save_every == 0
        if save_due or (step == stop_at and step < total_steps):
            save_checkpoint(
                out,
                step=step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                sampler=sampler,
                keep=config.run.keep_checkpoints,
                extra={"config_fingerprint": fingerprint, "num_tokens": num_tokens_before + tokens_run},
            )
    bar.close()
    seconds = time.perf_counter() - t_start
    metrics.close()
    completed = step >= total_steps
    exported: dict[str, str] = {}
    if completed and start_step < total_steps:
        exported = export_model(model, tokenizer, config=config, backend=be, output=out)
    summary = TrainSummary(
        stage=config.stage,
        backend=be.name,
        output=str(out),
        steps=step,
        total_steps=total_steps,
        completed=completed,
        resumed_from=start_step,
        num_tokens=tokens_run,
        seconds=round(seconds, 3),
        tokens_per_s=tokens_run / seconds if seconds > 0 else 0.0,
        first_loss=first_loss,
        last_loss=last_loss,
        peak_memory_gb=round(_peak_memory_gb(device), 3),
        model_info=model_info,
        exported=exported,
    )
    atomic_write_json(out / "summary.json", {**summary.to_dict(), "config_fingerprint": fingerprint})
    if own_logits_flag:
        os.environ.pop("UNSLOTH_RETURN_LOGITS", None)
    return summary


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


def _expected_weight(micro: list[dict[str, torch.Tensor]], config: TrainConfig) -> int:
    """Total loss weight of a step: target tokens (cpt/sft) or pairs (dpo)."""
    if config.stage == "dpo":
        return sum(int(b["input_ids"].shape[0]) // 2 for b in micro)
    total = 0
    for b in micro:
        labels = b["labels"]
        total += int((labels[:, 1:] != IGNORE_INDEX).sum())
    return max(1, total)


def _reference_factory(model, config: TrainConfig) -> Callable:
    """Context manager factory giving the frozen reference policy (dpo only)."""
    if config.stage != "dpo":
        return contextlib.nullcontext
    if config.model.finetuning == "lora" and hasattr(model, "disable_adapter"):

        @contextlib.contextmanager
        def adapters_off():
            with model.disable_adapter():
                yield model

        return adapters_off
    frozen = copy.deepcopy(model).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return lambda: contextlib.nullcontext(frozen)
