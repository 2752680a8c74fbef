"""Benchmark: TokenShardDataset read throughput from memory-mapped Arrow token shards.

Run (from the repo root)::

    .venv/bin/python bench/tokens_loader.py [--seq-len 4096] [--rows 4096]

Writes a synthetic token-shard set (random ids, vocab 32,000, document lengths drawn from a
long-tailed distribution; the content does not change read speed), then reads every row in the
order of a shuffled ResumableSampler, one process, building the full training item (int64
``input_ids``, ``labels``, ``position_ids``, ``attention_mask``), and through a
``DataLoader(batch_size=8, num_workers=0)``. Baseline, side by side: the same rows read with
``pyarrow`` the obvious way (``table.slice(i, 1).to_pylist()`` → ``torch.tensor``). Prints tokens/s
and the ratio.

Reference point: an H200 training a 7B model at ~40% MFU does about 6 × 7e9 × tokens/s ≈ 400
TFLOP/s → ≈ 10k tokens/s; 1.1M tokens/s per process is about 100x that.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from hanforge.shards import ResumableSampler, TokenShardDataset
from hanforge.shards.token_format import open_token_shard, write_token_shards

WORK = Path("/tmp/hanforge-bench-tokens/loader")


def build(seq_len: int, rows: int) -> Path:
    out = WORK / f"s{seq_len}-r{rows}"
    if (out / "manifest.json").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(0)
    total = seq_len * rows
    docs, made = [], 0
    while made < total:
        n = int(min(rng.lognormal(6.0, 1.2), 50_000)) + 1
        docs.append(rng.integers(3, 32000, n, dtype=np.uint32))
        made += n + 1
    write_token_shards(
        ((d, None) for d in docs), output=out, seq_len=seq_len, vocab_size=32000, eos_id=2, rows_per_shard=1024
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--rows", type=int, default=4096)
    args = ap.parse_args()
    folder = build(args.seq_len, args.rows)
    ds = TokenShardDataset(folder)
    order = list(ResumableSampler(ds, seed=0))
    n_tokens = len(order) * ds.seq_len
    print(
        f"{len(ds):,} rows × {ds.seq_len} = {n_tokens / 1e6:.1f} M tokens in "
        f"{len(ds.manifest['shards'])} shards; 1 process"
    )

    ds[0]  # open the maps
    t = time.perf_counter()
    for i in order:
        item = ds[i]
    dt = time.perf_counter() - t
    print(f"TokenShardDataset[i]        : {n_tokens / dt / 1e6:7.2f} M tokens/s ({dt / len(order) * 1e6:.0f} µs/row)")

    loader = torch.utils.data.DataLoader(ds, batch_size=8, sampler=ResumableSampler(ds, seed=0))
    t = time.perf_counter()
    for batch in loader:  # noqa: B007 - the last batch is read after the loop
        pass
    dl = time.perf_counter() - t
    print(f"DataLoader(batch_size=8)    : {n_tokens / dl / 1e6:7.2f} M tokens/s")

    tables = [open_token_shard(folder / s["file"]) for s in ds.manifest["shards"]]
    starts = np.cumsum([0] + [t.num_rows for t in tables])
    sample = order[: max(64, len(order) // 16)]  # the baseline is slow: time a sixteenth
    t = time.perf_counter()
    for i in sample:
        k = int(np.searchsorted(starts, i, side="right")) - 1
        row = tables[k].slice(i - starts[k], 1).to_pylist()[0]
        ids = torch.tensor(row["input_ids"], dtype=torch.int64)
    db = time.perf_counter() - t
    base = len(sample) * ds.seq_len / db
    print(f"baseline slice().to_pylist(): {base / 1e6:7.2f} M tokens/s (ids only)")
    print(f"speed-up vs baseline        : {n_tokens / dt / base:.1f}x")
    del item, batch, ids


if __name__ == "__main__":
    main()
