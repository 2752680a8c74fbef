"""Optional extras: a one-line message saying what to install when one is missing.

The base install (``pip install hanforge``) builds corpora and token shards; training and the
torch dataset need the ``train`` extra. Importing torch code without it would end in a raw
``ModuleNotFoundError``; :func:`require_torch` says what to install instead, including the
CPU-only torch build (the default wheel pulls CUDA and the nvidia libraries).
"""

from __future__ import annotations

import importlib.util
import sys

from hanforge.errors import TrainingError

TRAIN_PACKAGES = ("torch", "transformers", "accelerate", "peft", "trl", "datasets")
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def missing(packages: tuple[str, ...]) -> list[str]:
    """The names in ``packages`` that cannot be imported here."""
    absent = []
    for name in packages:
        if name in sys.modules:
            if sys.modules[name] is None:  # import blocked
                absent.append(name)
        elif importlib.util.find_spec(name) is None:
            absent.append(name)
    return absent


def require_torch(what: str, *, packages: tuple[str, ...] = ("torch",)) -> None:
    """Raise a TrainingError naming what to install when one of ``packages`` is missing."""
    absent = missing(packages)
    if absent:
        raise TrainingError(
            f"{what} needs {', '.join(absent)}: pip install 'hanforge[train]' "
            f"(on a CPU-only machine first: {CPU_TORCH})"
        )
