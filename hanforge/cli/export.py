"""``hanforge export``: merged 16-bit, bitsandbytes 4-bit and GGUF exports of a run, verified."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb

#: The line ``hanforge --help`` shows for this verb.
HELP = "export a trained run: merged safetensors, bnb 4-bit, GGUF f16/q8_0/q4_k_m (verified), --deploy files"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "export", export_command, help=HELP)
    p.add_argument("source", help="run folder (hanforge train --output), its merged/ folder, or a model folder")
    p.add_argument("--output", help="export folder (default: <run>/export)")
    p.add_argument(
        "--formats",
        default="merged,f16,q8_0",
        help="comma list of merged, bnb-4bit (CUDA only), f16, q8_0, q4_k_m (needs llama-cpp-python)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip loading the exports back")
    p.add_argument("--verify-text", help="UTF-8 text file to verify on (default: the embedded Korean Debian FAQ)")
    p.add_argument("--verify-chars", type=int, default=4000, help="characters of verification text")
    p.add_argument("--verify-llama-cpp", action="store_true", help="also score GGUF files in llama.cpp itself")
    p.add_argument("--deploy", action="store_true", help="write Dockerfile, docker-compose.yml, k8s.yaml")
    p.add_argument(
        "--deploy-backend",
        choices=["llama.cpp", "vllm"],
        default="llama.cpp",
        help="server in the deployment files (llama.cpp: GGUF on CPU; vllm: safetensors on a GPU)",
    )


def export_command(args: argparse.Namespace) -> int:
    """Export a finished training run to the formats other runtimes load, and check each one.

    merged   16-bit safetensors (the run's merged/; merged here from adapter/ if the run kept only that)
    bnb-4bit bitsandbytes NF4 (needs a CUDA GPU; on CPU this is an error that says so)
    f16/q8_0 GGUF via llama.cpp's own convert_hf_to_gguf.py (fetched once from the llama-cpp-python
             sdist on PyPI into ~/.cache/hanforge, then offline)
    q4_k_m   GGUF via llama.cpp's llama_model_quantize (pip install 'hanforge[gguf]')

    Every export is loaded back (transformers' GGUF loader; llama.cpp with --verify-llama-cpp) and
    compared with the 16-bit source on Korean text: bits/char, top-1 agreement, logit difference.
    The training chat template (Korean Alpaca or the tokenizer's) goes into the GGUF.
    Results: <output>/export.json.

    Example:  hanforge export runs/sft --formats merged,f16,q8_0 --deploy
    """
    from pathlib import Path

    from hanforge.errors import InputError
    from hanforge.export import ExportOptions, export_run, format_export_summary

    options = ExportOptions.from_table(
        {
            "formats": [f.strip() for f in args.formats.split(",") if f.strip()],
            "verify": not args.no_verify,
            "verify_chars": args.verify_chars,
            "verify_llama_cpp": args.verify_llama_cpp,
            "deploy": args.deploy,
            "deploy_backend": args.deploy_backend,
        },
        where="--",
    )
    texts = None
    if args.verify_text:
        path = Path(args.verify_text)
        if not path.is_file():
            raise InputError(f"--verify-text {path}: no such file")
        texts = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        budget, kept = args.verify_chars, []
        for line in texts:
            if budget <= 0:
                break
            kept.append(line[:budget])
            budget -= len(kept[-1])
        texts = kept
    manifest = export_run(args.source, output=args.output, options=options, verify_text=texts)
    print(format_export_summary(manifest))
    return 0
