"""Benchmark: ``hanforge tokenize`` (tokenize + pack + write Arrow shards) throughput and packing
efficiency on the LibreOffice help set, against a naive per-document baseline.

Run (from the repo root; needs /tmp/lo unpacked, see bench/tokens_data.py)::

    .venv/bin/python bench/tokens_throughput.py [--seq-len 4096] [--repeats 3]

Prints tokens/s (wall clock, best of N) of the full job (Parquet in → Arrow shards out, manifest and fingerprints
included), the same per core, tokens per CPU-second (process CPU time, all threads: the
per-core rate that does not depend on what else runs on a shared machine), the packing
efficiency, and the naive baseline (``encode`` one
document at a time, pack with Python lists, no writing) side by side with the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pyarrow.parquet as pq  # noqa: E402
import tokens_data  # noqa: E402

from hanforge.shards.tokenize import tokenize_shards  # noqa: E402
from hanforge.tokenizer.load import load_tokenizer  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=tokens_data.DEFAULT_WORK)
    args = ap.parse_args()
    train, _ = tokens_data.text_shards(args.work)
    tok_dir = tokens_data.trained_tokenizer(args.work)
    cores = os.cpu_count() or 1

    best = best_cpu = None
    for _ in range(args.repeats):
        out = args.work / "bench-tokens"
        shutil.rmtree(out, ignore_errors=True)
        t, c = time.perf_counter(), time.process_time()
        manifest = tokenize_shards(inputs=[train], tokenizer=tok_dir, seq_len=args.seq_len, output=out,
                                   progress=False)
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        best = dt if best is None else min(best, dt)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    n = manifest["num_tokens"]

    texts = [t or "" for f in sorted((train / "shards").glob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()]
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

    print(f"corpus: {manifest['num_docs']:,} docs, {sum(map(len, texts)):,} chars → {n:,} tokens; "
          f"seq_len {args.seq_len}; {cores} cores; best of {args.repeats}")
    print(f"hanforge tokenize : {best:6.2f} s  {n / best / 1e6:6.2f} M tokens/s  "
          f"({n / best / cores / 1e6:.2f} M/s per core; {n / best_cpu / 1e6:.2f} M tokens per CPU-second)")
    print(f"  of which encode_batch_fast alone: {enc_only:.2f} s ({n / enc_only / 1e6:.2f} M tokens/s)")
    print(f"naive baseline    : {base_best:6.2f} s  {base_n / base_best / 1e6:6.2f} M tokens/s  "
          f"({base_n / base_best / cores / 1e6:.2f} M/s per core; {base_n / base_cpu / 1e6:.2f} M tokens per CPU-second)")
    print(f"speed-up vs naive : {base_best / best:.2f}x")
    print(f"packing efficiency: {manifest['packing_efficiency']:.5%} non-padding "
          f"({manifest['num_pad_tokens']:,} padding tokens in {manifest['num_rows']:,} rows)")


if __name__ == "__main__":
    main()
