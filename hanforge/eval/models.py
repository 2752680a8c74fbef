"""Load a causal LM for evaluation: a Hugging Face folder, or a GGUF file (dequantized).

transformers reads GGUF with ``from_pretrained(folder, gguf_file=name)`` (needs the ``gguf``
package); such a model refuses ``save_pretrained``, so :func:`gguf_to_folder` copies its state
dict into a fresh model of the same config and saves that (plain safetensors + tokenizer) for
``hanforge train`` and any other tool. Local files only: no hub downloads.
"""

from __future__ import annotations

from pathlib import Path

from hanforge.errors import InputError


def _split_gguf(path: str | Path, gguf_file: str | None) -> tuple[str, str | None]:
    path = Path(path)
    if gguf_file is None and path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    return str(path), gguf_file


def resolve_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def load_causal_lm(path: str | Path, *, gguf_file: str | None = None, device: str = "cpu",
                   dtype: str = "auto"):
    """``(model, tokenizer)`` from a local folder (or ``.gguf`` file), in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = _split_gguf(path, gguf_file)
    if not Path(folder).exists():
        raise InputError(f"{path}: no such model folder or file")
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True,
                                                     dtype=resolve_dtype(dtype, device), **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot load the model ({exc})") from None
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def gguf_to_folder(gguf_path: str | Path, output: str | Path, *, dtype: str = "bfloat16") -> Path:
    """Dequantize a GGUF model into a plain Hugging Face folder (safetensors + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM

    model, tokenizer = load_causal_lm(gguf_path, dtype="float32")
    fresh = AutoModelForCausalLM.from_config(model.config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(model.state_dict(), strict=False)
    # a tied lm_head is not in the state dict of either side; anything else missing is an error
    missing = [k for k in missing if not (k.endswith("lm_head.weight") and fresh.config.tie_word_embeddings)]
    if missing or unexpected:
        raise InputError(f"{gguf_path}: state dict does not fit the config (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    output = Path(output)
    fresh.to(getattr(torch, dtype)).save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    return output
