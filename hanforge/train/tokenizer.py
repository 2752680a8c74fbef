"""Load the Hugging Face tokenizer a training run uses (model, EEVE vocabulary extension, export).

Kept apart from :mod:`hanforge.train.backend` so that :mod:`hanforge.train.vocab` can load the
old tokenizer without importing the backend that calls it.
"""

from __future__ import annotations

from hanforge.errors import TrainingError


def load_tokenizer_for_training(path: str):
    """The Hugging Face tokenizer at ``path`` (a pad token is set to EOS when it has none)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{path}: cannot load tokenizer ({exc})") from None
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return tok
