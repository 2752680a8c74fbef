"""Checkpoints of a training run: which one to resume from, and what must not change across a resume.

The Trainer writes ``<output>/checkpoints/checkpoint-N/`` (trainable weights, optimizer, scheduler,
RNG states, ``trainer_state.json`` with the step and token count). Once it is whole,
:class:`~hanforge.train.callbacks.CheckpointMarker` writes :data:`MARKER` into it last (atomically):
a checkpoint without the marker was cut off by a kill and is never resumed from. The row order
needs no saved state (:class:`~hanforge.train.rows.RowStream` derives it from the step).
"""

from __future__ import annotations

import re
from pathlib import Path

from hanforge.fingerprint import config_fingerprint
from hanforge.train.config import TrainConfig

MARKER = "hanforge.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def complete_checkpoints(folder: Path) -> list[Path]:
    """``checkpoint-N`` folders under ``folder`` that carry the marker, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if (p / MARKER).is_file()]


def unfinished_checkpoints(folder: Path) -> list[Path]:
    """``checkpoint-N`` folders under ``folder`` without the marker (a kill cut their writing off)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if _CHECKPOINT.match(p.name) and p.is_dir() and not (p / MARKER).is_file()]


def checkpoint_step(path: Path) -> int:
    """The optimizer step of a ``checkpoint-N`` folder."""
    return int(path.name.rsplit("-", 1)[1])


def resume_fingerprint(config: TrainConfig) -> str:
    """Fingerprint of what must not change across a resume (output, run length, logging excluded)."""
    data = config.to_dict()
    data.pop("output")
    data["export"] = None
    for key in ("max_steps", "num_epochs", "log_every", "save_every", "keep_checkpoints", "tensorboard"):
        data["run"].pop(key)
    return config_fingerprint(data)
