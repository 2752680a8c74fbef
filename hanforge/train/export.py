"""Export a trained model: the LoRA adapter (PEFT format) and merged 16-bit safetensors.

``<output>/adapter`` loads with ``peft.PeftModel.from_pretrained(base, path)``;
``<output>/merged`` loads with plain ``transformers.AutoModelForCausalLM.from_pretrained`` (no
peft, no unsloth). Each folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from hanforge.train.backend import Backend
from hanforge.train.config import TrainConfig


@contextmanager
def _atomic_dir(final: Path) -> Iterator[Path]:
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _is_peft(model) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def export_model(model, tokenizer, *, config: TrainConfig, backend: Backend, output: str | Path) -> dict[str, str]:
    """Write what ``config.export`` asks for under ``output``; return ``{kind: folder}``.

    The merge is done in place (``merge_and_unload``), so call this after training.
    """
    output = Path(output)
    done: dict[str, str] = {}
    exp = config.export
    peft = _is_peft(model)
    if exp.adapter and peft:
        with _atomic_dir(output / "adapter") as tmp:
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        done["adapter"] = str(output / "adapter")
    if exp.merged:
        dtype = getattr(torch, exp.merged_dtype)
        with _atomic_dir(output / "merged") as tmp:
            if backend.name == "unsloth" and peft and exp.merged_dtype != "float32":
                # unsloth dequantises a 4-bit base before merging
                model.save_pretrained_merged(str(tmp), tokenizer, save_method="merged_16bit")
            else:
                merged = model.merge_and_unload() if peft else model
                emb, head = merged.get_input_embeddings(), merged.get_output_embeddings()
                if (
                    getattr(merged.config, "tie_word_embeddings", False)
                    and head is not None
                    and head.weight.data_ptr() != emb.weight.data_ptr()
                ):
                    merged.config.tie_word_embeddings = False  # embeddings and head were trained apart
                merged = merged.to(dtype)
                merged.config.use_cache = True
                merged.save_pretrained(str(tmp), safe_serialization=True)
                tokenizer.save_pretrained(str(tmp))
        done["merged"] = str(output / "merged")
    return done
