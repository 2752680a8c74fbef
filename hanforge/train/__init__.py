"""Thin training layer on transformers' Trainer and TRL: CPT, SFT, DPO and GRPO from hanforge data.

``train(config, stage=...)`` (:mod:`hanforge.train.trainer`) is the one entry point
(``build_trainer`` returns the ready trainer without running it); it runs on Unsloth when a CUDA
GPU and unsloth are there and on plain transformers + peft otherwise (:mod:`hanforge.train.backend`). Config: :class:`~hanforge.train.config.TrainConfig`
(``train.toml``; see docs/training.md). torch is imported only when a name is first used.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "train": "hanforge.train.trainer",
    "build_trainer": "hanforge.train.trainer",
    "TrainSummary": "hanforge.train.trainer",
    "TrainConfig": "hanforge.train.config",
    "load_train_config": "hanforge.train.config",
    "choose_backend": "hanforge.train.backend",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
