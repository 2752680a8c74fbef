"""transformers ``TrainerCallback``s of ``hanforge train``: metrics, checkpoint markers, time-boxed stops.

* :class:`MetricsCallback`: every log record goes to ``<output>/metrics.jsonl`` (one JSON object a
  line, ``step`` first) and, when tensorboard is installed and asked for, to ``<output>/tensorboard``.
* :class:`CheckpointMarker`: after the Trainer has written ``checkpoints/checkpoint-N`` (weights,
  optimizer, scheduler, RNG, trainer state), writes ``hanforge.json`` into it last: the resume
  fingerprint and the token count. A checkpoint without it is unfinished (killed mid-save) and
  is never resumed from (:func:`~hanforge.train.checkpoint.complete_checkpoints`).
* :class:`StopAfter`: ends a time-boxed call (``--steps-this-run``) with a checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from hanforge.atomic import atomic_write_json
from hanforge.train.checkpoint import MARKER


class MetricsCallback(TrainerCallback):
    """metrics.jsonl (append) and TensorBoard scalars from the Trainer's log records."""

    def __init__(self, out: Path, *, tensorboard: bool, log: Callable[[str], None]) -> None:
        self.path = out / "metrics.jsonl"
        self.tensorboard = tensorboard
        self.log = log
        self.writer = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        if state.global_step:
            self._write({"event": "resume", "from_step": state.global_step})
        else:
            self.path.write_text("", encoding="utf-8")  # a fresh start: records of an unfinished earlier try go
        if self.tensorboard and self.writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.log("tensorboard is not installed: metrics go to metrics.jsonl only (pip install tensorboard)")
            else:
                purge = state.global_step + 1 if state.global_step else None
                self.writer = SummaryWriter(str(self.path.parent / "tensorboard"), purge_step=purge)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        record = {"step": state.global_step}
        for key, value in logs.items():
            if isinstance(value, int | float) and key != "epoch":  # rows are an endless stream: no epochs
                record["lr" if key == "learning_rate" else key] = value
        self._write(record)
        if self.writer is not None:
            for key, value in record.items():
                if key != "step":
                    self.writer.add_scalar(f"train/{key}", value, record["step"])

    def on_train_end(self, args, state, control, **kwargs):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


class CheckpointMarker(TrainerCallback):
    """Mark a checkpoint complete (see the module docstring)."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            atomic_write_json(
                folder / MARKER,
                {
                    "config_fingerprint": self.fingerprint,
                    "step": state.global_step,
                    "num_tokens": state.num_input_tokens_seen,
                },
            )


class StopAfter(TrainerCallback):
    """Stop with a checkpoint once ``stop_at`` optimizer steps are done (before the end of the run)."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.stop_at and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True
        return control
