"""GPU benchmark of ``hanforge train``: CPT throughput and memory, plus short SFT and DPO runs.

Two commands. On the CPU machine, build the data (LibreOffice Korean help text -> a 32k
SentencePiece BPE tokenizer -> token shards at seq 4096, with hanforge's own functions)::

    .venv/bin/python bench/train_gpu.py prepare --html /tmp/lo/libreoffice/help/ko/text --out .trainbench

On the GPU machine (device tool; carry .gpusite and .trainbench)::

    export PYTHONPATH=$PWD/.gpusite:$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python3 bench/train_gpu.py run --data .trainbench --out $OUT --sizes 1.5b,7b

For each model shape (random-init Qwen2.5-1.5B / 7B shapes, bf16, LoRA r16 on all linear
layers, seq 4096, gradient checkpointing), side by side in child processes (so unsloth's
patches never touch the baseline):

* unsloth + hanforge's token-shard loader (``TokenShardDataset`` + ``ResumableSampler``),
* unsloth + the same rows pre-materialised in memory (loader overhead = 1 - loader / in-memory),
* plain transformers + peft (sdpa) + the same loader (speed-up = unsloth / plain),

and, at 1.5B, short SFT (hand-written Korean sample, Alpaca template) and DPO runs. Figures are
tokens/s (non-padding tokens, median over the steps after the warm-up) and peak GPU memory.
``--tiny`` runs the same program on CPU with a 2-layer model (transformers in every slot) to
check it before spending device time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    # Qwen2.5-1.5B / Qwen2.5-7B shapes (config.json of the released models), random init
    "1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "7b": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        tie_word_embeddings=False,
    ),
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=40000,
        tie_word_embeddings=True,
    ),
}
BATCH = {"1.5b": 4, "7b": 2, "tiny": 2}


# ------------------------------------------------------------------------------------ prepare


def prepare(html: Path, out: Path, *, vocab_size: int, seq_len: int, max_pages: int) -> None:
    """Text shards from the HTML pages, a tokenizer and token shards, all with hanforge code."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from resiliparse.extract.html2text import extract_plain_text

    from hanforge.shards.text_schema import TEXT_SHARD_SCHEMA
    from hanforge.tokenizer.tokenize_job import tokenize_shards
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    pages = sorted(html.rglob("*.html"))[: max_pages or None]
    rows = []
    for k, path in enumerate(pages):
        text = extract_plain_text(path.read_text(encoding="utf-8", errors="replace"), main_content=True)
        if text.strip():
            rows.append({"id": f"lo-{k}", "text": text, "source": "libreoffice", "num_chars": len(text)})
    work = Path("/tmp/trainbench-text")
    (work / "shards").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=TEXT_SHARD_SCHEMA), work / "shards" / "part-0.parquet")
    train_tokenizer(inputs=[work], output=out / "tok", config=TokenizerTrainConfig(vocab_size=vocab_size))
    manifest = tokenize_shards(
        inputs=[work], tokenizer=out / "tok", seq_len=seq_len, output=out / "tokens", overwrite=True
    )
    print(f"{len(rows)} pages -> {manifest['num_rows']} rows of {seq_len}, {manifest['num_tokens']:,} tokens")


# ---------------------------------------------------------------------------------------- run


def make_model(shape: str, folder: Path, tokenizer: Path) -> None:
    """Save a random-init Qwen2 of ``shape`` (bf16 on GPU, float32 on CPU) with the tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    cuda = torch.cuda.is_available()
    config = Qwen2Config(
        **SHAPES[shape],
        max_position_embeddings=32768,
        rope_theta=1e6,
        bos_token_id=1,
        eos_token_id=2,
        dtype="bfloat16" if cuda else "float32",
    )
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16 if cuda else torch.float32)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(folder)
    del model
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()


def base_table(
    *, stage: str, model: Path, tok: Path, data: Path, output: Path, shape: str, steps: int, tiny: bool
) -> dict:
    return {
        "stage": stage,
        "output": str(output),
        "seed": 1,
        "model": {
            "path": str(model),
            "tokenizer": str(tok),
            "dtype": "float32" if tiny else "bfloat16",
            "gradient_checkpointing": True,
            "max_seq_length": 4096 if not tiny else 256,
        },
        "lora": {"rank": 16, "alpha": 16.0},
        "optim": {"learning_rate": 2e-4, "warmup_steps": 2, "schedule": "constant"},
        "data": {
            "token_shards": str(data / "tokens"),
            "instructions": str(ROOT / "hanforge/sample/instruct/sft-ko.jsonl"),
            "preferences": str(ROOT / "hanforge/sample/instruct/dpo-ko.jsonl"),
            "max_length": 1024,
        },
        "run": {"batch_size": BATCH[shape], "max_steps": steps, "log_every": 1, "tensorboard": False},
        "export": {"adapter": False, "merged": False},
    }


class InMemoryRows:
    """Every loader row materialised as tensors up front (the 'synthetic in-memory batches').

    Same rows, same sampler seed, so both runs see identical batches (identical attention work);
    the only difference is where a row comes from.
    """

    def __init__(self, dataset) -> None:
        self.items = [dataset[i] for i in range(len(dataset))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[int(i)]


def summarize_run(summary, output: Path, warmup: int) -> dict:
    records = [json.loads(x) for x in (output / "metrics.jsonl").read_text().splitlines() if '"step"' in x]
    tps = [r["tokens_per_s"] for r in records if r["step"] > warmup]
    return {
        "tokens_per_s": statistics.median(tps) if tps else None,
        "peak_memory_gb": summary.peak_memory_gb,
        "first_loss": summary.first_loss,
        "last_loss": summary.last_loss,
        "steps": summary.steps,
        "backend": summary.backend,
        "losses": [round(r["step_loss"], 4) for r in records],
        "seconds": summary.seconds,
        "trainable_params": summary.model_info.get("num_trainable_params"),
    }


def child(spec: dict) -> None:
    """One backend in one process: the runs listed in ``spec['runs']``; results to spec['result']."""
    import torch

    from hanforge.train.config import TrainConfig

    if spec["backend"] == "unsloth" and not spec["tiny"]:
        import unsloth  # noqa: F401  (must come before transformers)
    from hanforge.shards import TokenShardDataset
    from hanforge.train.trainer import train

    results = {}
    for run in spec["runs"]:
        t0 = time.perf_counter()
        out = Path(spec["work"]) / f"{spec['shape']}-{spec['backend']}-{run}"
        stage = run if run in ("sft", "dpo") else "cpt"
        steps = spec["steps"] if stage == "cpt" else spec["short_steps"]
        table = base_table(
            stage=stage,
            model=Path(spec["model"]),
            tok=Path(spec["model"]),
            data=Path(spec["data"]),
            output=out,
            shape=spec["shape"],
            steps=steps,
            tiny=spec["tiny"],
        )
        if stage == "cpt" and spec.get("batch"):
            table["run"]["batch_size"] = spec["batch"]
        if spec.get("lora_rank"):
            table["lora"] = {"rank": spec["lora_rank"], "alpha": float(spec["lora_rank"])}
        if stage == "sft":
            table["optim"]["learning_rate"] = 1e-4
            table["run"]["batch_size"] = 4
        if stage == "dpo":
            table["optim"]["learning_rate"] = 5e-5
            table["run"]["batch_size"] = 4
        shutil.rmtree(out, ignore_errors=True)  # a fresh measurement every time
        dataset = None
        kind = run.split("#")[0]  # "loader#2": a repeat of "loader" later in the same process
        if kind == "in-memory":
            dataset = InMemoryRows(TokenShardDataset(Path(spec["data"]) / "tokens"))
        if kind == "loader-no-offload":
            table["model"]["offload_activations"] = False
        if kind == "loader-nomask":  # packed rows with plain causal attention across documents
            table["run"]["document_masking"] = False
        backend = "transformers" if spec["tiny"] else spec["backend"]
        try:
            summary = train(TrainConfig.from_table(table), backend=backend, dataset=dataset, progress=False)
            results[run] = summarize_run(summary, out, spec["warmup"])
        except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others still run
            results[run] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        results[run]["wall_s"] = round(time.perf_counter() - t0, 1)
        print(json.dumps({run: results[run]}), flush=True)
        Path(spec["result"]).write_text(json.dumps(results, indent=1))
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def run_all(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    report: dict = {"command": " ".join(sys.argv), "sizes": {}}
    sizes = ["tiny"] if args.tiny else args.sizes.split(",")
    for shape in sizes:
        elapsed = time.perf_counter() - t_start
        if elapsed > args.budget_s:
            report["sizes"][shape] = {"skipped": f"time budget spent ({elapsed:.0f} s)"}
            continue
        model = work / f"model-{shape}"
        t0 = time.perf_counter()
        make_model(shape, model, Path(args.data) / "tok")
        entry: dict = {
            "make_model_s": round(time.perf_counter() - t0, 1),
            "batch_size": args.batch or BATCH[shape],
            "lora_rank": args.lora_rank or 16,
        }
        short = ["sft", "dpo"] if shape in ("1.5b", "tiny") and not args.no_short else []
        plans = [("unsloth", args.unsloth_runs.split(",") + short), ("transformers", args.plain_runs.split(","))]
        for backend, runs in plans:
            if time.perf_counter() - t_start > args.budget_s:
                entry[backend] = {"skipped": "time budget spent"}
                continue
            spec = {
                "backend": backend,
                "runs": runs,
                "shape": shape,
                "model": str(model),
                "data": args.data,
                "work": str(work),
                "steps": args.steps,
                "short_steps": args.short_steps,
                "warmup": args.warmup,
                "tiny": args.tiny,
                "batch": args.batch,
                "lora_rank": args.lora_rank,
                "result": str(work / f"result-{shape}-{backend}.json"),
            }
            log_path = out / f"log-{shape}-{backend}.txt"
            remaining = max(30.0, args.hard_limit_s - (time.perf_counter() - t_start))
            with log_path.open("w") as fh:
                try:
                    proc = subprocess.run(
                        [sys.executable, __file__, "child", json.dumps(spec)],
                        text=True,
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        timeout=remaining,
                    )
                    code = proc.returncode
                except subprocess.TimeoutExpired:
                    code = "killed at the time limit"
            try:
                entry[backend] = json.loads(Path(spec["result"]).read_text())
            except FileNotFoundError:
                entry[backend] = {"error": f"child exited {code}: " + log_path.read_text()[-1500:]}
            if code != 0:
                entry[backend]["exit"] = code
            print(shape, backend, json.dumps(entry[backend])[:1500], flush=True)
            report["sizes"][shape] = {**entry, **ratios(entry)}
            (out / "train_gpu.json").write_text(json.dumps(report, indent=1))
        entry.update(ratios(entry))
        report["sizes"][shape] = entry
        (out / "train_gpu.json").write_text(json.dumps(report, indent=1))
        if not args.tiny:
            shutil.rmtree(model, ignore_errors=True)
    report["total_s"] = round(time.perf_counter() - t_start, 1)
    (out / "train_gpu.json").write_text(json.dumps(report, indent=1))
    print(
        json.dumps(
            {
                k: {kk: vv for kk, vv in v.items() if kk.startswith("ratio") or kk == "skipped"}
                for k, v in report["sizes"].items()
            },
            indent=1,
        )
    )


def ratios(entry: dict) -> dict:
    def tps(backend: str, run: str):
        return (entry.get(backend) or {}).get(run, {}).get("tokens_per_s")

    out = {}
    loader, mem, plain = tps("unsloth", "loader"), tps("unsloth", "in-memory"), tps("transformers", "loader")
    no_offload = tps("unsloth", "loader-no-offload")
    if loader and mem:
        out["ratio_loader_overhead_pct"] = round(100 * (1 - loader / mem), 2)
    if loader and plain:
        out["ratio_unsloth_vs_plain"] = round(loader / plain, 3)
    if no_offload and plain:
        out["ratio_unsloth_no_offload_vs_plain"] = round(no_offload / plain, 3)
    loader2, mem2 = tps("unsloth", "loader#2"), tps("unsloth", "in-memory#2")
    if loader2 and mem2:
        out["ratio_loader_overhead_pct_second_pair"] = round(100 * (1 - loader2 / mem2), 2)
    nomask, plain_nomask = tps("unsloth", "loader-nomask"), tps("transformers", "loader-nomask")
    if nomask and plain_nomask:
        out["ratio_unsloth_vs_plain_nomask"] = round(nomask / plain_nomask, 3)
    nomask2 = tps("unsloth", "loader-nomask#2")
    if nomask2 and plain_nomask:
        out["ratio_unsloth_vs_plain_nomask_second"] = round(nomask2 / plain_nomask, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--html", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=32000)
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--max-pages", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--work", default="/dev/shm/hanforge-trainbench")
    r.add_argument("--sizes", default="1.5b,7b")
    r.add_argument("--steps", type=int, default=15)
    r.add_argument("--short-steps", type=int, default=20)
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--budget-s", type=float, default=420.0, help="start no new model size / backend after this")
    r.add_argument("--hard-limit-s", type=float, default=560.0, help="kill a child still running after this")
    r.add_argument("--no-short", action="store_true", help="skip the short SFT and DPO runs")
    r.add_argument("--tiny", action="store_true")
    r.add_argument(
        "--unsloth-runs",
        default="loader,in-memory,loader-no-offload",
        help="unsloth runs in order, in one process: loader, in-memory, loader-no-offload, "
        "loader-nomask; '#N' repeats one (e.g. in-memory,loader,in-memory#2,loader#2)",
    )
    r.add_argument("--batch", type=int, default=0, help="CPT rows per step (default: 4 at 1.5B, 2 at 7B)")
    r.add_argument("--lora-rank", type=int, default=0, help="LoRA rank and alpha (default 16)")
    r.add_argument("--plain-runs", default="loader", help="transformers+peft runs, same names")
    c = sub.add_parser("child")
    c.add_argument("spec")
    args = parser.parse_args()
    if args.cmd == "prepare":
        prepare(
            Path(args.html), Path(args.out), vocab_size=args.vocab_size, seq_len=args.seq_len, max_pages=args.max_pages
        )
    elif args.cmd == "child":
        child(json.loads(args.spec))
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        run_all(args)


if __name__ == "__main__":
    main()
