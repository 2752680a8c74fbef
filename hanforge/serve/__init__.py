"""``hanforge serve``: an OpenAI-compatible endpoint for an exported model.

Backends: ``transformers`` (a merged model folder, or a GGUF dequantised by transformers; CPU or
GPU, standard-library HTTP server), ``llama.cpp`` (a GGUF in llama-cpp-python, in process, same
HTTP server) and ``vllm`` (``vllm serve`` is started as its own OpenAI server on a GPU machine).
``auto`` picks llama.cpp for a .gguf when llama-cpp-python is installed, vLLM for a model folder
on a CUDA machine with vLLM, else transformers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hanforge.errors import ExportError
from hanforge.serve.backends import (
    LlamaCppBackend,
    TransformersBackend,
    resolve_model,
    vllm_command,
)
from hanforge.serve.http_api import make_server

__all__ = ["build_backend", "make_server", "resolve_model", "vllm_command"]


def choose_backend(kind: str, requested: str) -> str:
    """The backend name for a model of ``kind`` (hf | gguf) given ``requested`` (auto | ...)."""
    if requested != "auto":
        if requested == "llama.cpp" and kind != "gguf":
            raise ExportError("--backend llama.cpp serves a .gguf file (hanforge export --formats q8_0 writes one)")
        if requested == "vllm" and kind != "hf":
            raise ExportError("--backend vllm serves a model folder (safetensors), not a .gguf file")
        return requested
    if kind == "gguf":
        return "llama.cpp" if importlib.util.find_spec("llama_cpp") else "transformers"
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("vllm"):
        return "vllm"
    return "transformers"


def build_backend(
    path: str | Path, *, backend: str = "auto", name: str | None = None, n_ctx: int = 2048, threads: int | None = None
):
    """``(backend object, description)`` for ``path`` (export/run/model folder or .gguf);
    ``threads``: CPU threads (llama.cpp's ``n_threads``, torch's intra-op threads), default theirs."""
    model = resolve_model(path)
    which = choose_backend(model["kind"], backend)
    name = name or Path(path).resolve().name.removesuffix(".gguf")
    if which == "llama.cpp":
        be = LlamaCppBackend(model["path"], name=name, n_ctx=n_ctx, n_threads=threads)
        return be, f"llama.cpp on {model['path']} ({getattr(be.llm, 'n_threads', '?')} threads)"
    if which == "vllm":
        raise ExportError("vllm runs as its own server: use serve_command()")
    import torch

    if threads:
        torch.set_num_threads(threads)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if model["kind"] == "gguf":
        p = Path(model["path"])
        be = TransformersBackend(
            p.parent,
            gguf_file=p.name,
            template=model["template"],
            name=name,
            tokenizer_dir=model["tokenizer_dir"],
            device=device,
        )
        return be, f"transformers (GGUF dequantised to float32) on {device}: {p}"
    be = TransformersBackend(model["path"], template=model["template"], name=name, device=device)
    return be, f"transformers on {device}: {model['path']} (template {model['template']})"
