"""One evaluation report: bits/char per held-out set, harness tasks, token efficiency.

:func:`evaluate_model` is what ``hanforge eval`` runs; it returns a JSON-able dict and
:func:`format_eval_report` turns it into Markdown. Token efficiency is
:func:`hanforge.tokenizer.report.tokenizer_report` (chars/token, byte-fallback rate) on the same
held-out text with the model's own tokenizer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hanforge.errors import InputError


def parse_named(pairs: list[str], *, what: str) -> dict[str, str]:
    """``["name=path", "path"]`` → ``{name: path}`` (a bare path is named after its file/folder)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep:
            name, path = Path(pair).stem or pair, pair
        if not name or not path:
            raise InputError(f"{what} {pair!r}: expected NAME=PATH")
        if name in out:
            raise InputError(f"{what} {name!r} given twice")
        out[name] = path
    return out


def _tokenizer_dir(model_path: str, tokenizer, work: Path) -> Path:
    folder = Path(model_path)
    if folder.is_dir() and (folder / "tokenizer.json").is_file():
        return folder
    out = work / "tokenizer"
    tokenizer.save_pretrained(out)  # a GGUF's tokenizer, converted by transformers
    if not (out / "tokenizer.json").is_file():
        raise InputError(f"{model_path}: the tokenizer has no fast (tokenizer.json) form for the efficiency report")
    return out


def evaluate_model(
    *,
    model_path: str,
    gguf_file: str | None = None,
    texts: dict[str, str] | None = None,
    max_chars: int = 0,
    window: int = 1024,
    stride: int = 512,
    batch_size: int = 8,
    tasks: list[str] | None = None,
    task_data: dict[str, str] | None = None,
    num_fewshot: int | None = None,
    seed: int = 1234,
    limit: float | None = None,
    device: str | None = None,
    dtype: str = "auto",
    work_dir: str | Path = "eval-out",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Load the model once and run what is asked; see :mod:`hanforge.eval`."""
    import torch

    from hanforge.eval.bits import bits_per_char
    from hanforge.eval.models import load_causal_lm
    from hanforge.eval.texts import read_eval_texts

    texts = texts or {}
    if not texts and not tasks and not task_data:
        raise InputError("nothing to evaluate: give --text and/or --tasks / --task-data")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_causal_lm(model_path, gguf_file=gguf_file, device=device, dtype=dtype)
    report: dict[str, Any] = {
        "model": str(model_path),
        "gguf_file": gguf_file,
        "device": device,
        "num_params": sum(p.numel() for p in model.parameters()),
        "bits": {},
        "harness": None,
        "token_efficiency": None,
    }
    for name, path in texts.items():
        docs = read_eval_texts([path], max_chars=max_chars)
        t0 = time.perf_counter()
        r = bits_per_char(model, tokenizer, docs, window=window, stride=stride, batch_size=batch_size)
        report["bits"][name] = {"path": str(path), **r.to_dict(), "seconds": round(time.perf_counter() - t0, 1)}
        log(
            f"{name}: {r.bits_per_char:.4f} bits/char, {r.bits_per_byte:.4f} bits/byte "
            f"({r.num_chars:,} chars, {r.num_tokens:,} tokens)"
        )
    if texts:
        from hanforge.tokenizer.report import tokenizer_report

        report["token_efficiency"] = tokenizer_report(
            inputs=[p for p in texts.values() if Path(p).is_dir() or Path(p).suffix == ".parquet"]
            or list(texts.values()),
            tokenizers=[_tokenizer_dir(model_path, tokenizer, work)],
        )[0]
    if tasks or task_data:
        from hanforge.eval.harness import run_harness

        report["harness"] = run_harness(
            model,
            tokenizer,
            tasks=tasks,
            task_data=task_data,
            work_dir=work / "harness",
            num_fewshot=num_fewshot,
            seed=seed,
            limit=limit,
            batch_size=batch_size,
            device=device,
        )
    return report


def format_eval_report(report: dict[str, Any]) -> str:
    """Markdown: a bits table, the harness table and the token-efficiency line."""
    from hanforge.eval.harness import format_harness_table

    lines = [f"# {report['model']}" + (f" ({report['gguf_file']})" if report.get("gguf_file") else "")]
    if report["bits"]:
        lines += [
            "",
            "| text | docs | chars | tokens | chars/token | bits/char | bits/byte | window/stride |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, r in report["bits"].items():
            lines.append(
                f"| {name} | {r['num_docs']:,} | {r['num_chars']:,} | {r['num_tokens']:,} | "
                f"{r['chars_per_token']:.3f} | {r['bits_per_char']:.4f} | {r['bits_per_byte']:.4f} | "
                f"{r['window']}/{r['stride']} |"
            )
    if report.get("harness") and report["harness"].get("tasks"):
        lines += ["", format_harness_table(report["harness"]["tasks"])]
    eff = report.get("token_efficiency")
    if eff:

        def fmt(v, pattern):
            return "—" if v is None else format(v, pattern)

        lines += [
            "",
            f"Token efficiency ({eff['name']}, vocab {eff['vocab_size']:,}): Korean "
            f"{fmt(eff['ko_chars_per_token'], '.3f')} chars/token, byte fallback "
            f"{fmt(eff.get('ko_byte_fallback_rate'), '.2%')}; English {fmt(eff['en_chars_per_token'], '.3f')} "
            "chars/token.",
        ]
    return "\n".join(lines)
