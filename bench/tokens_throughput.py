"""Benchmark: ``hanforge tokenize`` (tokenize + pack + write Arrow shards) throughput and packing
efficiency on the LibreOffice help set, against a naive per-document baseline.

Run (from the repo root; needs /tmp/lo unpacked, see bench/tokens_data.py)::

    .venv/bin/python bench/tokens_throughput.py [--seq-len 4096] [--repeats 3]

Prints tokens/s (wall clock, best of N) of the full job (Parquet in → Arrow shards out, manifest and fingerprints
included), the same per core, tokens per CPU-second (process CPU time, all threads: the
per-core rate that does not depend on what else runs on a shared machine), the median, the packing
efficiency, and the naive baseline (``encode`` one
document at a time, pack with Python lists, no writing) side by side with the ratio; the same
job again in a child process pinned to one core (one thread, no Rust thread pool): tokens/s per
core measured, not divided. Then the
encoders alone (CPU time): ``encode_batch_fast`` vs hanforge's ``BatchEncoder`` (checked to give
the same token count) on the training pages and on the held-out pages plus the Debian FAQ.

Less repetitive prose: the full job (both cores, same settings) also runs on the held-out pages
plus the Debian FAQ (unseen by the tokenizer, fewer repeated words) and on every ``--set
NAME=FOLDER`` (text shards, e.g. the 10x/30x dedup outputs kept by ``bench/scale_curve.py
--keep``), each printed as tokens/s (wall, best and median) beside tokens per CPU-second, against
the 2.5 M tokens/s target on 2 cores::

    .venv/bin/python bench/tokens_throughput.py --set x10=/tmp/hanforge-scale/x10/dedup
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pyarrow.parquet as pq
import tokens_data

from hanforge.tokenizer.batch_encode import BatchEncoder
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_job import tokenize_shards


def naive(texts: list[str], tok, *, seq_len: int, eos: int) -> int:
    """The obvious loop: encode each document, append EOS, cut a Python list into rows."""
    rows, buf = [], []
    for text in texts:
        buf.extend(tok.encode(text).ids)
        buf.append(eos)
        while len(buf) >= seq_len:
            rows.append(buf[:seq_len])
            buf = buf[seq_len:]
    return len(rows) * seq_len + len(buf)


def time_job(train: Path, tok_dir: Path, *, seq_len: int, out: Path, repeats: int) -> tuple[list, list, dict]:
    """Wall and CPU seconds of ``repeats`` full tokenize jobs, and the last manifest."""
    walls, cpus = [], []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        t, c = time.perf_counter(), time.process_time()
        manifest = tokenize_shards(inputs=[train], tokenizer=tok_dir, seq_len=seq_len, output=out, progress=False)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return walls, cpus, manifest


def one_core(args) -> list[float]:
    """The same job in a child process pinned to one core (one thread, no Rust thread pool)."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    cmd = [
        sys.executable,
        __file__,
        "--one-core-child",
        "--repeats",
        str(args.repeats),
        "--seq-len",
        str(args.seq_len),
        "--work",
        str(args.work),
    ]
    return json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1024, help="documents per encode call (as the job)")
    ap.add_argument("--work", type=Path, default=tokens_data.DEFAULT_WORK)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=FOLDER", help="another set of text shards")
    ap.add_argument("--one-core-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    train, held = tokens_data.text_shards(args.work)
    tok_dir = tokens_data.trained_tokenizer(args.work)
    if args.one_core_child:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        walls, _, _ = time_job(
            train, tok_dir, seq_len=args.seq_len, out=args.work / "bench-tokens-1core", repeats=args.repeats
        )
        print(json.dumps(walls))
        return
    cores = len(os.sched_getaffinity(0))

    walls, cpus, manifest = time_job(
        train, tok_dir, seq_len=args.seq_len, out=args.work / "bench-tokens", repeats=args.repeats
    )
    best, best_cpu, median = min(walls), min(cpus), statistics.median(walls)
    walls_1 = one_core(args)
    n = manifest["num_tokens"]

    texts = [
        t or "" for f in sorted((train / "shards").glob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()
    ]
    loaded = load_tokenizer(tok_dir)
    base_best = base_cpu = None
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        base_n = naive(texts, loaded.tokenizer, seq_len=args.seq_len, eos=loaded.eos_id)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        base_best = dt if base_best is None else min(base_best, dt)
        base_cpu = cpu if base_cpu is None else min(base_cpu, cpu)

    t = time.perf_counter()
    loaded.tokenizer.encode_batch_fast(texts)
    enc_only = time.perf_counter() - t

    # the encoders alone, CPU time: a fresh BatchEncoder (empty word cache) per run, in batches of
    # --batch-size documents as the job reads them, on the training set and on the held-out set
    # (other LibreOffice pages plus the Debian FAQ, whose prose repeats fewer words)
    encoders = {}
    for name, folder in (("LibreOffice (train)", train), ("held-out", held)):
        docs = [
            t or "" for f in sorted((folder / "shards").glob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()
        ]
        batches = [docs[i : i + args.batch_size] for i in range(0, len(docs), args.batch_size)]
        plain, word = [], []
        for _ in range(args.repeats):
            c = time.process_time()
            num = sum(len(e.ids) for b in batches for e in loaded.tokenizer.encode_batch_fast(b))
            plain.append(time.process_time() - c)
            encoder = BatchEncoder(loaded.tokenizer)
            c = time.process_time()
            assert sum(int(encoder.encode(b)[1].sum()) for b in batches) == num
            word.append(time.process_time() - c)
        encoders[name] = (len(docs), num, min(plain), min(word))

    print(
        f"corpus: {manifest['num_docs']:,} docs, {sum(map(len, texts)):,} chars → {n:,} tokens; "
        f"seq_len {args.seq_len}; {cores} cores; best of {args.repeats}"
    )
    print(
        f"hanforge tokenize : {best:6.2f} s  {n / best / 1e6:6.2f} M tokens/s  "
        f"({n / best / cores / 1e6:.2f} M/s per core; {n / best_cpu / 1e6:.2f} M tokens per CPU-second)"
    )
    print(
        f"  median of {args.repeats}: {median:6.2f} s  {n / median / 1e6:6.2f} M tokens/s  "
        f"({n / median / cores / 1e6:.2f} M/s per core); all runs: {', '.join(f'{w:.2f}' for w in walls)} s"
    )
    print(
        f"same job pinned to 1 core: best {min(walls_1):.2f} s = {n / min(walls_1) / 1e6:.2f} M tokens/s per core, "
        f"median {statistics.median(walls_1):.2f} s = {n / statistics.median(walls_1) / 1e6:.2f} M tokens/s per core; "
        f"all runs: {', '.join(f'{w:.2f}' for w in walls_1)} s"
    )
    print(f"  encoder: {'word path (each distinct word encoded once)' if loaded.encoder.word_path else 'generic'}")
    print(
        f"  plain encode_batch_fast alone (no packing, no writing): {enc_only:.2f} s ({n / enc_only / 1e6:.2f} M tokens/s)"
    )
    print(
        f"naive baseline    : {base_best:6.2f} s  {base_n / base_best / 1e6:6.2f} M tokens/s  "
        f"({base_n / base_best / cores / 1e6:.2f} M/s per core; {base_n / base_cpu / 1e6:.2f} M tokens per CPU-second)"
    )
    print(f"speed-up vs naive : {base_best / best:.2f}x")
    for name, (docs, num, plain, word) in encoders.items():
        print(
            f"encoders alone, {name} ({docs:,} docs, {num:,} tokens), CPU-seconds best of {args.repeats}: "
            f"encode_batch_fast {plain:.3f} ({num / plain / 1e6:.2f} M tokens per CPU-s), BatchEncoder "
            f"{word:.3f} ({num / word / 1e6:.2f} M per CPU-s), {plain / word:.2f}x less CPU"
        )
    print(
        f"packing efficiency: {manifest['packing_efficiency']:.5%} non-padding "
        f"({manifest['num_pad_tokens']:,} padding tokens in {manifest['num_rows']:,} rows)"
    )
    # the full job on the other sets: tokens/s on the cores this process may use, and per CPU-second
    sets = {"LibreOffice (train)": (walls, cpus, manifest)}
    for name, folder in [("held-out + FAQ", held), *((k, Path(v)) for k, v in (x.split("=", 1) for x in args.set))]:
        sets[name] = time_job(
            folder, tok_dir, seq_len=args.seq_len, out=args.work / "bench-tokens-set", repeats=args.repeats
        )
    shutil.rmtree(args.work / "bench-tokens-set", ignore_errors=True)
    print(f"\n| set | docs | tokens | best wall s | M tokens/s ({cores} cores, best / median) | M tokens per CPU-s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (w, c, m) in sets.items():
        n = m["num_tokens"]
        print(
            f"| {name} | {m['num_docs']:,} | {n:,} | {min(w):.2f} | {n / min(w) / 1e6:.2f} / "
            f"{n / statistics.median(w) / 1e6:.2f} | {n / min(c) / 1e6:.2f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f} (target: 2.5 M tokens/s on 2 cores, every set)")


if __name__ == "__main__":
    main()
