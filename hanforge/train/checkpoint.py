"""Checkpoints of a training run and exact resume.

``<output>/checkpoints/step-NNNNNNNN/`` holds ``trainable.safetensors`` (every parameter with
``requires_grad``: LoRA adapters, saved modules, or all weights), ``optimizer.pt`` and ``state.pt``
(step, scheduler, ``ResumableSampler`` position, Python/NumPy/torch/CUDA RNG states, the
resume fingerprint). A checkpoint is written to a temporary folder and renamed when complete, so
a killed run never leaves one that looks whole; loading restores all of it in place.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hanforge.errors import TrainingError
from hanforge.fingerprint import config_fingerprint
from hanforge.train.config import TrainConfig

CHECKPOINTS = "checkpoints"


def checkpoint_dirs(out: Path) -> list[Path]:
    root = out / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith("step-") and ".tmp-" not in p.name and (p / "state.pt").is_file()
    )


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    out: Path, *, step: int, model, optimizer, scheduler, sampler, extra: dict[str, Any], keep: int
) -> Path:
    """Write ``checkpoints/step-<step>`` under a temporary name and rename it; prune old ones."""
    from safetensors.torch import save_file

    final = out / CHECKPOINTS / f"step-{step:08d}"
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(_trainable_state(model), str(tmp / "trainable.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(
        {
            "step": step,
            "scheduler": scheduler.state_dict(),
            "sampler": sampler.state_dict(),
            "rng": _rng_state(),
            **extra,
        },
        tmp / "state.pt",
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, *, model, optimizer, scheduler, sampler, fingerprint: str) -> dict[str, Any]:
    """Restore a checkpoint into the live objects; return its state dict."""
    from safetensors.torch import load_file

    state = torch.load(path / "state.pt", weights_only=False)
    if state.get("config_fingerprint") != fingerprint:
        raise TrainingError(
            f"{path}: checkpoint of a different config (model/data/optimizer/batch changed); "
            "use a new output folder or restore the config"
        )
    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing:
        raise TrainingError(f"{path}: checkpoint lacks trainable weights such as {missing[0]}")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    _set_rng_state(state["rng"])
    return state


def resume_fingerprint(config: TrainConfig) -> str:
    """Fingerprint of what must not change across a resume (output, run length, logging excluded)."""
    data = config.to_dict()
    data.pop("output")
    data["export"] = None
    for key in ("max_steps", "num_epochs", "log_every", "save_every", "keep_checkpoints", "tensorboard"):
        data["run"].pop(key)
    return config_fingerprint(data)
