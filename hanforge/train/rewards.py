"""Korean example reward functions for ``hanforge train --stage grpo`` and how rewards are loaded.

A reward is any function with TRL's signature ``f(prompts, completions, **columns) -> list[float]``
(one float per completion, ``None`` to abstain; ``columns`` are the other fields of the prompt
records), named in ``[grpo] rewards`` as ``module:function``. The examples here score text only:

* :func:`hangul_ratio`: share of Hangul syllables among the letters of the completion (answer in Korean);
* :func:`length_target`: closeness of the completion's length in characters to ``target_chars``
  (a column of the prompt record, else 200);
* :func:`alpaca_format`: 1 when the completion does not start a new ``### 지시사항:`` turn, ends
  in a sentence-final mark and has no leftover template header.

:func:`load_rewards` resolves the ``module:function`` strings (a one-line ConfigError otherwise).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from hanforge.errors import ConfigError

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")
_HEADER = re.compile(r"###\s*(지시사항|입력|응답)\s*:")
_FINAL = ("다.", "요.", "다!", "요!", "다?", "요?", ".", "!", "?")


def _text(completion: Any) -> str:
    """A completion as text: TRL passes strings (standard) or message lists (conversational)."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def hangul_ratio(prompts: list, completions: list, **_: Any) -> list[float]:
    """Share of Hangul syllables among the letters of each completion (0 when it has no letters)."""
    out = []
    for completion in completions:
        text = _text(completion)
        letters = len(_LETTER.findall(text))
        out.append(len(_HANGUL.findall(text)) / letters if letters else 0.0)
    return out


def length_target(prompts: list, completions: list, target_chars: list | None = None, **_: Any) -> list[float]:
    """1 - |len - target| / target, floored at 0; target = the record's ``target_chars`` or 200."""
    out = []
    for k, completion in enumerate(completions):
        target = float(target_chars[k]) if target_chars is not None and target_chars[k] else 200.0
        n = len(_text(completion).strip())
        out.append(max(0.0, 1.0 - abs(n - target) / target))
    return out


def alpaca_format(prompts: list, completions: list, **_: Any) -> list[float]:
    """1.0 for a clean Korean Alpaca answer (no template header inside, ends a sentence), else 0.0."""
    out = []
    for completion in completions:
        text = _text(completion).strip()
        ok = bool(text) and not _HEADER.search(text) and text.endswith(_FINAL)
        out.append(1.0 if ok else 0.0)
    return out


def load_rewards(specs: list[str]) -> list[Callable]:
    """Import each ``module:function`` of ``[grpo] rewards``; ConfigError names the one that fails."""
    funcs = []
    for spec in specs:
        module_name, _, name = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"grpo.rewards: cannot import {module_name!r} for {spec!r} ({exc})") from None
        func = getattr(module, name, None)
        if not callable(func):
            raise ConfigError(f"grpo.rewards: {module_name} has no function {name!r} ({spec!r})")
        funcs.append(func)
    return funcs
