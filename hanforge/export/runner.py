"""``hanforge export``: from a finished run to merged safetensors, bitsandbytes 4-bit and GGUF,
each verified against the source model, plus deployment files.

:func:`export_run` resolves the source (:mod:`hanforge.export.source`), writes the formats asked
for under the output folder, loads every export back and compares it with the 16-bit source on
Korean text (:mod:`hanforge.export.verify`), optionally writes Dockerfile / docker-compose /
Kubernetes files (:mod:`hanforge.export.deploy`), and records all of it in ``export.json``.

Layout: ``<output>/gguf/model-<fmt>.gguf``, ``<output>/bnb-4bit/``, ``<output>/merged/`` (only
when merged here from an adapter; otherwise the run's ``merged/`` is the 16-bit export),
``<output>/deploy/``, ``<output>/export.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Literal

from hanforge.atomic import atomic_write_json
from hanforge.config import ConfigBase, require
from hanforge.errors import ExportError
from hanforge.export.gguf import GGUF_FORMATS, export_gguf
from hanforge.export.llamacpp import LLAMA_CPP_PYTHON_VERSION
from hanforge.export.source import ExportSource, load_tokenizer, resolve_source

FORMATS = ("merged", "bnb-4bit", *GGUF_FORMATS)


@dataclasses.dataclass(frozen=True)
class ExportOptions(ConfigBase):
    """What ``hanforge export`` writes and checks."""

    formats: list[str] = dataclasses.field(default_factory=lambda: ["merged", "f16", "q8_0"])
    """Any of merged (16-bit safetensors), bnb-4bit (CUDA only), f16, q8_0, q4_k_m (GGUF)."""
    verify: bool = True
    """Load each export back and compare it with the 16-bit source on Korean text."""
    verify_chars: int = 4000
    """Characters of Korean verification text (the embedded Debian FAQ sample unless a file is given)."""
    verify_window: int = 256
    """Tokens per scored window."""
    verify_llama_cpp: bool = False
    """Also score the GGUF files in llama.cpp itself (needs llama-cpp-python)."""
    deploy: bool = False
    """Write Dockerfile, docker-compose.yml and k8s.yaml under <output>/deploy."""
    deploy_backend: Literal["llama.cpp", "vllm"] = "llama.cpp"
    """Server in the deployment files: llama.cpp (GGUF, CPU) or vLLM (safetensors, GPU)."""
    merged_dtype: Literal["bfloat16", "float16"] = "bfloat16"
    """dtype when merging an adapter here."""
    converter_version: str = LLAMA_CPP_PYTHON_VERSION
    """llama-cpp-python release whose llama.cpp converter is used."""

    def validate(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS]
        require(not bad, "formats", f"{bad[0] if bad else ''!r} is not one of {', '.join(FORMATS)}")
        require(bool(self.formats), "formats", "name at least one format")
        require(self.verify_chars >= 100, "verify_chars", f"must be at least 100, got {self.verify_chars}")
        require(self.verify_window >= 8, "verify_window", f"must be at least 8, got {self.verify_window}")
        gguf = [f for f in self.formats if f in GGUF_FORMATS]
        require(
            self.deploy_backend != "llama.cpp" or not self.deploy or bool(gguf),
            "deploy_backend",
            "llama.cpp serves a GGUF file: add f16, q8_0 or q4_k_m to formats, or use vllm",
        )


def export_bnb_4bit(source: ExportSource, output: Path) -> Path:
    """bitsandbytes NF4 weights (``load_in_4bit``) saved with save_pretrained; CUDA only."""
    import torch

    if not torch.cuda.is_available():
        raise ExportError(
            "bnb-4bit: bitsandbytes 4-bit quantisation needs a CUDA GPU and this machine has none; "
            "on CPU use GGUF q8_0 or q4_k_m, or run the export on a GPU machine"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ExportError("bnb-4bit: bitsandbytes is not installed: pip install 'hanforge[bnb]' (CUDA)") from None
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    model = AutoModelForCausalLM.from_pretrained(str(source.model_dir), quantization_config=quant, device_map="cuda")
    import os
    import shutil

    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        load_tokenizer(source.model_dir).save_pretrained(str(tmp))
        if output.exists():
            shutil.rmtree(output)
        os.replace(tmp, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return output


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _verify(
    source, *, files: dict[str, Path], entries: dict[str, dict], options: ExportOptions, verify_text, log
) -> None:
    """Score every exported file against the source on Korean text; record it in ``entries``."""
    from hanforge.export import verify as vf

    tokenizer = load_tokenizer(source.model_dir)
    texts = verify_text or vf.korean_sample_text(max_chars=options.verify_chars)
    windows, num_chars = vf.token_windows(tokenizer, texts, window=options.verify_window)
    log(f"verifying on {num_chars:,} characters of Korean text ({sum(map(len, windows)):,} tokens)")
    reference = vf.transformers_scorer(source.model_dir)
    cache: dict[tuple[int, ...], object] = {}

    def source_scorer(ids):  # the source's logits are computed once per window
        key = tuple(ids)
        if key not in cache:
            cache[key] = reference(ids)
        return cache[key]

    source_bpc = vf.bits_per_char(source_scorer, windows, num_chars)
    if "merged" in entries:
        entries["merged"]["verification"] = {"bits_per_char": round(source_bpc, 6), "reference": True}
    for fmt, file in files.items():
        if fmt == "merged":
            continue
        if fmt in GGUF_FORMATS:
            mismatches = vf.gguf_vocab_mismatches(file, tokenizer)
            if mismatches:
                raise ExportError(f"{file}: the GGUF vocabulary differs from the tokenizer: {'; '.join(mismatches)}")
            scorer = vf.transformers_scorer(file.parent, gguf_file=file.name)
        else:
            scorer = vf.transformers_scorer(file)
        agreement = vf.compare(source_scorer, scorer, windows, num_chars=num_chars, name=fmt)
        entries[fmt]["verification"] = {**agreement.to_dict(), "loader": "transformers"}
        if fmt in GGUF_FORMATS and options.verify_llama_cpp:
            lc = vf.llama_cpp_scorer(file, n_ctx=max(64, options.verify_window))
            agreement = vf.compare(source_scorer, lc, windows, num_chars=num_chars, name=fmt)
            entries[fmt]["verification_llama_cpp"] = {**agreement.to_dict(), "loader": "llama.cpp"}
        del scorer


def export_run(
    path: str | Path,
    *,
    output: str | Path | None = None,
    options: ExportOptions | None = None,
    verify_text: list[str] | None = None,
    log=print,
) -> dict:
    """Export the run or model folder ``path``; return (and write to ``<output>/export.json``) the manifest."""
    options = options or ExportOptions()
    path = Path(path)
    out = (
        Path(output)
        if output
        else (path / "export" if (path / "train_config.json").is_file() else path.parent / f"{path.name}-export")
    )
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    source = resolve_source(path, output=out, dtype=options.merged_dtype, log=log)
    log(
        f"source: {source.model_dir} (template {source.template}"
        f"{', SentencePiece ' + str(source.spm_model) if source.spm_model else ''})"
    )
    files: dict[str, Path] = {}
    if "merged" in options.formats:
        files["merged"] = source.model_dir
    if "bnb-4bit" in options.formats:
        files["bnb-4bit"] = export_bnb_4bit(source, out / "bnb-4bit")
    gguf_formats = [f for f in options.formats if f in GGUF_FORMATS]
    if gguf_formats:
        files.update(
            export_gguf(
                source, formats=gguf_formats, output=out / "gguf", converter_version=options.converter_version, log=log
            )
        )
    entries: dict[str, dict] = {fmt: {"path": str(p), "bytes": _size(p)} for fmt, p in files.items()}
    if options.verify:
        _verify(source, files=files, entries=entries, options=options, verify_text=verify_text, log=log)
    manifest = {
        "source": str(source.model_dir),
        "run": str(source.run_dir) if source.run_dir else None,
        "template": source.template,
        "converter": f"llama-cpp-python {options.converter_version} (vendor/llama.cpp/convert_hf_to_gguf.py)",
        "formats": entries,
        "options": options.to_dict(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if options.deploy:
        from hanforge.export.deploy import write_deploy

        manifest["deploy"] = write_deploy(manifest, output=out / "deploy", backend=options.deploy_backend)
    atomic_write_json(out / "export.json", manifest)
    return manifest


def format_export_summary(manifest: dict) -> str:
    """A readable table of the exports and their verification."""
    lines = [
        f"hanforge export: {manifest['source']} (template {manifest['template']})",
        f"  {'format':<9} {'size':>10}  {'bits/char':>9} {'Δ vs 16-bit':>11} {'top-1':>7} {'max|Δlogit|':>11}",
    ]
    for fmt, e in manifest["formats"].items():
        v = e.get("verification", {})
        size = f"{e['bytes'] / 2**20:,.1f} MiB"
        if v.get("reference"):
            lines.append(f"  {fmt:<9} {size:>10}  {v['bits_per_char']:>9.4f} {'(source)':>11}")
        elif v:
            lines.append(
                f"  {fmt:<9} {size:>10}  {v['bits_per_char']:>9.4f} {v['bits_per_char_delta']:>+11.4f} "
                f"{v['top1_agreement']:>7.1%} {v['max_abs_logit_diff']:>11.4f}"
            )
        else:
            lines.append(f"  {fmt:<9} {size:>10}  (not verified)")
        lines.append(f"            {e['path']}")
    for kind, file in (manifest.get("deploy") or {}).get("files", {}).items():
        lines.append(f"  deploy {kind}: {file}")
    lines.append(f"  manifest: export.json ({manifest['seconds']} s)")
    return "\n".join(lines)
