"""EEVE-style initialisation of embedding rows for tokens added to the vocabulary.

``hanforge tokenizer extend`` writes the added tokens as a JSON list of strings. Each new row of
``embed_tokens`` (and of an untied ``lm_head``) becomes the mean of the rows of the subword ids
the OLD tokenizer splits that token's text into (Kim et al. 2024, "Efficient and Effective
Vocabulary Expansion", EEVE). Written here because transformers' ``resize_token_embeddings``
only offers a mean-of-all-rows init.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from hanforge.errors import ConfigError, TrainingError
from hanforge.train.config import VocabConfig
from hanforge.train.tokenizer import load_tokenizer_for_training


def read_added_tokens(path: str | Path) -> list[str]:
    """The added token strings listed at ``path``.

    Accepts ``hanforge tokenizer extend``'s ``new_tokens.json`` (a list of objects with a
    ``token`` key) or a plain JSON list of token strings.
    """
    path = Path(path)
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"vocab.added_tokens: {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"vocab.added_tokens: {path} is not JSON ({exc})") from None
    if isinstance(tokens, list) and all(isinstance(t, dict) and isinstance(t.get("token"), str) for t in tokens):
        tokens = [t["token"] for t in tokens]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ConfigError(
            f"vocab.added_tokens: {path} must hold a JSON list of token strings "
            "or hanforge tokenizer extend's new_tokens.json"
        )
    return tokens


def token_text(tokenizer, token: str) -> str:
    """The text a vocabulary token stands for (``▁`` / byte-level markers decoded)."""
    text = tokenizer.convert_tokens_to_string([token])
    return text if text.strip() else token


@torch.no_grad()
def extend_embeddings(model, *, new_tokenizer, config: VocabConfig) -> dict[str, Any]:
    """Resize ``model`` to ``len(new_tokenizer)`` rows and EEVE-initialise the added tokens' rows.

    Returns counts: ``num_added`` (tokens listed), ``num_initialised`` (rows set from old
    subwords), ``num_unsplittable`` (old tokenizer gave no ids: row keeps the resize default).
    """
    added = read_added_tokens(config.added_tokens)
    old_tokenizer = load_tokenizer_for_training(config.old_tokenizer)
    emb = model.get_input_embeddings()
    old_rows = emb.weight.shape[0]
    new_size = len(new_tokenizer)
    if new_size < len(old_tokenizer):
        raise TrainingError(
            f"model.tokenizer has {new_size} tokens, fewer than vocab.old_tokenizer ({len(old_tokenizer)})"
        )
    old_in = emb.weight.detach().clone()
    out_emb = model.get_output_embeddings()
    tied = out_emb is not None and out_emb.weight.data_ptr() == emb.weight.data_ptr()
    old_out = out_emb.weight.detach().clone() if out_emb is not None and not tied else None
    if new_size > old_rows:
        model.resize_token_embeddings(new_size, mean_resizing=False)
    emb = model.get_input_embeddings()
    out_emb = model.get_output_embeddings()
    num_init = num_unsplit = 0
    for token in added:
        new_id = new_tokenizer.convert_tokens_to_ids(token)
        if new_id is None or new_id == new_tokenizer.unk_token_id:
            raise TrainingError(f"vocab.added_tokens: {token!r} is not in model.tokenizer")
        if new_id < old_rows:
            continue  # the model already has a trained row for it
        old_ids = [
            i
            for i in old_tokenizer(token_text(new_tokenizer, token), add_special_tokens=False)["input_ids"]
            if i < old_rows
        ]
        if not old_ids:
            num_unsplit += 1
            continue
        ids = torch.tensor(old_ids, device=old_in.device)
        emb.weight[new_id] = old_in[ids].mean(0).to(emb.weight.dtype)
        if old_out is not None:
            out_emb.weight[new_id] = old_out[ids].mean(0).to(out_emb.weight.dtype)
        num_init += 1
    return {
        "num_added": len(added),
        "num_initialised": num_init,
        "num_unsplittable": num_unsplit,
        "old_rows": old_rows,
        "new_rows": new_size,
    }
