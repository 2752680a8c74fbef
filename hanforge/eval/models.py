"""Load a causal LM for evaluation: a Hugging Face folder, or a GGUF file (dequantized).

transformers reads GGUF with ``from_pretrained(folder, gguf_file=name)`` (needs the ``gguf``
package); such a model refuses ``save_pretrained``, so :func:`gguf_to_folder` copies its state
dict into a fresh model of the same config and saves that (plain safetensors + tokenizer) for
``hanforge train`` and any other tool. Local files only: no hub downloads.
"""

from __future__ import annotations

from pathlib import Path

from hanforge.errors import InputError

#: The files of a saved fast tokenizer that :func:`gguf_to_folder` copies from ``tokenizer_from``.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


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


def load_causal_lm(path: str | Path, *, gguf_file: str | None = None, device: str = "cpu", dtype: str = "auto"):
    """``(model, tokenizer)`` from a local folder (or ``.gguf`` file), in eval mode on ``device``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf = _split_gguf(path, gguf_file)
    if not Path(folder).exists():
        raise InputError(f"{path}: no such model folder or file")
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, dtype=resolve_dtype(dtype, device), **kwargs
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot load the model ({exc})") from None
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def gguf_to_folder(
    gguf_path: str | Path, output: str | Path, *, dtype: str = "bfloat16", tokenizer_from: str | Path | None = None
) -> Path:
    """Dequantize a GGUF model into a plain Hugging Face folder (safetensors + tokenizer).

    ``tokenizer_from``: a folder holding this model's tokenizer already converted (and repaired),
    copied instead of converting the GGUF vocabulary again: transformers' conversion of a 262k
    vocabulary is the slow part (about 25 of the 30 minutes on a busy 2-core machine; the weights
    take about one).
    """
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    if tokenizer_from is not None:
        source = Path(tokenizer_from)
        files = [source / n for n in TOKENIZER_FILES if (source / n).is_file()]
        if not (source / "tokenizer.json").is_file():
            raise InputError(f"{source}: no tokenizer.json to copy")
        folder, gguf = _split_gguf(gguf_path, None)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=gguf, local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise InputError(f"{gguf_path}: cannot load the model ({exc})") from None
        tokenizer = None
    else:
        model, tokenizer = load_causal_lm(gguf_path, dtype="float32")
    fresh = AutoModelForCausalLM.from_config(model.config, dtype=torch.float32)
    # the saved weights are plain floats: a "gguf" quantization_config left in config.json would make
    # transformers treat the folder as quantized and refuse to save any model loaded from it
    if getattr(fresh.config, "quantization_config", None) is not None:
        del fresh.config.quantization_config
    missing, unexpected = fresh.load_state_dict(model.state_dict(), strict=False)
    # a tied lm_head is not in the state dict of either side; anything else missing is an error
    missing = [k for k in missing if not (k.endswith("lm_head.weight") and fresh.config.tie_word_embeddings)]
    if missing or unexpected:
        raise InputError(
            f"{gguf_path}: state dict does not fit the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    output = Path(output)
    fresh.to(getattr(torch, dtype)).save_pretrained(output, safe_serialization=True)
    if tokenizer is None:
        for f in files:
            shutil.copyfile(f, output / f.name)
    else:
        tokenizer.save_pretrained(output)
    repair_spm_bpe_tokenizer(output / "tokenizer.json")
    return output


def repair_spm_bpe_tokenizer(path: str | Path) -> bool:
    """Turn a GGUF-converted SentencePiece **BPE** vocabulary back into a BPE tokenizer.

    transformers (5.17) converts a GGUF "llama"-type vocabulary such as Gemma 3's into a Unigram
    model whose scores are SentencePiece BPE's merge ranks (-id); Viterbi over those scores prefers
    single characters (five pieces of -500 beat one of -30000), so Korean comes out one token per
    character and the model scores far worse than with its real tokenizer. When the scores are
    the ranks (strictly falling with the id), the merges are rebuilt in rank order
    (:func:`hanforge.tokenizer.train.bpe_merges`) and the model is rewritten as BPE. Returns
    whether the file was changed.
    """
    import json

    from hanforge.tokenizer.train import bpe_merges

    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "Unigram":
        return False
    from collections import Counter

    special = {t["content"] for t in data.get("added_tokens", []) if t.get("special")}
    pieces = [(p, s) for p, s in model["vocab"]]
    counts = Counter(s for _, s in pieces)
    # control, unused and byte pieces share one score (-1000, 0); ordinary pieces carry their rank
    tied = {p for p, s in pieces if counts[s] > 1}
    ranked = [s for p, s in pieces if p not in special and p not in tied]
    if len(ranked) < 0.9 * len(pieces) or any(b >= a for a, b in zip(ranked, ranked[1:])):
        return False  # a real Unigram model (scores are log-probabilities, not ranks)
    vocab = {p: i for i, (p, _) in enumerate(pieces)}
    skip = special | tied
    unk_id = model.get("unk_id")
    data["model"] = {
        "type": "BPE",
        "dropout": None,
        "unk_token": pieces[unk_id][0] if unk_id is not None else None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": True,
        "byte_fallback": bool(model.get("byte_fallback")),
        "ignore_merges": False,
        "vocab": vocab,
        "merges": [list(m) for m in bpe_merges(vocab, skip=skip)],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return True
