"""What ``hanforge export`` starts from: a training run folder or a plain model folder.

A run folder (``train_config.json`` inside) gives its ``merged/`` 16-bit safetensors (written by
``hanforge train``); a run that saved only ``adapter/`` is merged here into ``<output>/merged``
(base from the run's ``model.path``, embeddings resized to the adapter's tokenizer for extended
vocabularies, bfloat16). A folder with ``config.json`` and safetensors is used as it is.
The training template (Korean Alpaca or the tokenizer's chat template) and the SentencePiece
model behind the tokenizer, if any, are found here too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from hanforge.errors import ExportError
from hanforge.export.chat_template import training_template


@dataclasses.dataclass
class ExportSource:
    """A model folder ready for conversion and what is known about its training."""

    model_dir: Path
    """Hugging Face folder (config.json, safetensors, tokenizer)."""
    run_dir: Path | None
    """The training run it came from, if any."""
    template: str
    """``alpaca-ko`` or ``chat``: how prompts were rendered in training."""
    spm_model: Path | None
    """A SentencePiece model whose pieces equal the tokenizer's vocabulary (for llama.cpp's SPM vocab)."""


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def resolve_source(path: str | Path, *, output: Path, dtype: str = "bfloat16", log=print) -> ExportSource:
    """The :class:`ExportSource` behind ``path`` (a run folder, its merged/ folder or a model folder)."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such run or model folder")
    run_dir: Path | None = None
    if (path / "train_config.json").is_file():
        run_dir = path
        if _is_model_dir(path / "merged"):
            model_dir = path / "merged"
        elif (path / "adapter" / "adapter_config.json").is_file():
            model_dir = merge_adapter(path, output=output / "merged", dtype=dtype, log=log)
        else:
            raise ExportError(
                f"{path}: the run has neither merged/ nor adapter/ (did it complete? rerun hanforge train)"
            )
    elif _is_model_dir(path):
        model_dir = path
        if (path.parent / "train_config.json").is_file():
            run_dir = path.parent
    else:
        raise ExportError(
            f"{path}: not a training run (train_config.json) nor a model folder (config.json + safetensors)"
        )
    return ExportSource(
        model_dir=model_dir,
        run_dir=run_dir,
        template=training_template(run_dir),
        spm_model=find_spm_model(model_dir, run_dir),
    )


def merge_adapter(run_dir: Path, *, output: Path, dtype: str, log=print) -> Path:
    """Merge ``run_dir/adapter`` into its base model; write ``output`` (safetensors + tokenizer)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    if _is_model_dir(output):
        return output
    config = json.loads((run_dir / "train_config.json").read_text(encoding="utf-8"))
    base_path = config["model"]["path"]
    log(f"merging {run_dir / 'adapter'} into {base_path}")
    tokenizer = load_tokenizer(run_dir / "adapter")
    try:
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32, local_files_only=True)
    except OSError as exc:
        raise ExportError(f"{run_dir}: base model {base_path} (model.path) cannot be loaded: {exc}") from None
    if base.get_input_embeddings().weight.shape[0] != len(tokenizer):
        base.resize_token_embeddings(len(tokenizer))  # extended vocabulary: rows come from the adapter
    merged = PeftModel.from_pretrained(base, str(run_dir / "adapter")).merge_and_unload()
    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        merged.to(getattr(torch, dtype)).save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return output


def load_tokenizer(model_dir: str | Path):
    """The tokenizer of a model folder exactly as its ``tokenizer.json`` says.

    ``AutoTokenizer`` is not used when a tokenizer.json exists: for some model types
    (qwen2, ...) transformers 5 builds its own class from vocab + merges instead, which turns a
    hanforge SentencePiece tokenizer saved next to Qwen2-shaped weights into a byte-level BPE
    that drops Hangul. Training loads tokenizer folders the same way (no config.json there).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    model_dir = Path(model_dir)
    if (model_dir / "tokenizer.json").is_file():
        tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir))
    else:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return tok


def _spm_pieces(path: Path) -> list[str] | None:
    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError):
        return None
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def find_spm_model(model_dir: Path, run_dir: Path | None) -> Path | None:
    """A SentencePiece model whose pieces are exactly the tokenizer's ids 0..n-1, else None.

    Looked for as ``tokenizer.model`` / ``sentencepiece.model`` next to the weights, then in the
    run's ``model.tokenizer`` folder. A stale one (for example the base's ``tokenizer.model``
    copied next to an extended tokenizer.json) is ignored, so llama.cpp's converter reads
    tokenizer.json instead.
    """
    candidates = [model_dir / "tokenizer.model", model_dir / "sentencepiece.model"]
    if run_dir is not None:
        config = json.loads((run_dir / "train_config.json").read_text(encoding="utf-8"))
        tok = config.get("model", {}).get("tokenizer") or config.get("model", {}).get("path")
        if tok:
            candidates += [Path(tok) / "tokenizer.model", Path(tok) / "sentencepiece.model"]
    candidates = [c for c in candidates if c.is_file()]
    if not candidates:
        return None
    vocab = load_tokenizer(model_dir).get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    for cand in candidates:
        pieces = _spm_pieces(cand)
        if pieces is not None and len(pieces) == len(by_id) and all(by_id.get(i) == p for i, p in enumerate(pieces)):
            return cand
    return None
