"""Write GGUF files (f16, q8_0, q4_k_m) of a model folder with llama.cpp's own tools.

The model folder is staged first (links to its files, so nothing is copied): the training chat
template goes into ``tokenizer_config.json`` (so llama.cpp and anything reading the GGUF build
the prompts the model was trained on), ``add_bos_token`` is written out as the tokenizer really
behaves, and a SentencePiece model whose pieces equal the vocabulary becomes ``tokenizer.model``
(llama.cpp's SPM vocabulary, which Korean SentencePiece tokenizers need on every architecture).
f16 and q8_0 are outtypes of ``convert_hf_to_gguf.py``; q4_k_m is quantised from the f16 file by
``llama_model_quantize``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hanforge.errors import ExportError
from hanforge.export import llamacpp
from hanforge.export.chat_template import chat_template_for
from hanforge.export.source import ExportSource, load_tokenizer

GGUF_FORMATS = ("f16", "q8_0", "q4_k_m")


def stage_for_conversion(source: ExportSource, stage: Path) -> Path:
    """A folder of links to ``source.model_dir`` with the tokenizer files adjusted (see module docstring)."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for item in source.model_dir.iterdir():
        if item.name in ("tokenizer.model", "tokenizer_config.json") or item.is_dir():
            continue
        (stage / item.name).symlink_to(item.resolve())
    if source.spm_model is not None:
        (stage / "tokenizer.model").symlink_to(source.spm_model.resolve())
    tok = load_tokenizer(source.model_dir)
    cfg_path = source.model_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    ids = tok("가", add_special_tokens=True)["input_ids"]
    cfg["add_bos_token"] = bool(tok.bos_token_id is not None and ids and ids[0] == tok.bos_token_id)
    cfg["add_eos_token"] = bool(tok.eos_token_id is not None and ids and ids[-1] == tok.eos_token_id)
    template = chat_template_for(source.template, tok)
    if template:
        cfg["chat_template"] = template
    (stage / "tokenizer_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=2), encoding="utf-8")
    return stage


def export_gguf(
    source: ExportSource,
    *,
    formats: list[str],
    output: Path,
    name: str = "model",
    converter_version: str = llamacpp.LLAMA_CPP_PYTHON_VERSION,
    log=print,
) -> dict[str, Path]:
    """Write ``output/<name>-<format>.gguf`` for each of ``formats``; return ``{format: file}``.

    Every requested file is written anew (under a temporary name, renamed when complete).
    """
    bad = [f for f in formats if f not in GGUF_FORMATS]
    if bad:
        raise ExportError(f"GGUF format {bad[0]!r}: choose from {', '.join(GGUF_FORMATS)}")
    if "q4_k_m" in formats:
        llamacpp.require_llama_cpp("GGUF q4_k_m")  # fail before any work
    converter = llamacpp.converter_dir(version=converter_version, log=log)
    output.mkdir(parents=True, exist_ok=True)
    stage = stage_for_conversion(source, output / f".stage-{os.getpid()}")
    done: dict[str, Path] = {}
    try:
        for fmt in ("f16", "q8_0"):
            if fmt in formats or (fmt == "f16" and "q4_k_m" in formats):
                log(f"converting to GGUF {fmt} (llama.cpp convert_hf_to_gguf.py)")
                done[fmt] = llamacpp.convert(stage, output / f"{name}-{fmt}.gguf", outtype=fmt, converter=converter)
        if "q4_k_m" in formats:
            log("quantising to GGUF q4_k_m (llama.cpp llama_model_quantize)")
            done["q4_k_m"] = llamacpp.quantize(done["f16"], output / f"{name}-q4_k_m.gguf", kind="q4_k_m")
            if "f16" not in formats:
                done.pop("f16").unlink()
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return done
