"""Peak RSS per worker of hanforge dedup's stages, measured in fresh worker processes.

    .venv/bin/python bench/dedup_memory.py --nodes 10000000

1. signature and candidate (bucket) stages on the benchmark corpus (bench/dedup_data.py, 8
   shards) and on the same corpus copied 4x (32 shards, with ``band_partitions`` 4x as well):
   per-task memory stays flat because a task holds one shard or one partition;
2. the connected-components rounds on a synthetic duplicate graph of ``--nodes`` documents
   (planted clusters, edges written as the candidate stage writes them), run with 4 and with 16
   graph partitions: one worker process runs every task of every round, and its peak RSS is
   compared with the size of the whole edge set it never has to hold.

Each measurement is the peak RSS (VmHWM) of a spawned child that imports hanforge, runs the tasks
and exits; the import-only baseline is reported too.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

WORK = Path("/tmp/hanforge-dedup-memory")


def peak_rss_mib() -> float:
    """VmHWM of this process: its peak RSS since exec (ru_maxrss would include the parent's
    high-water mark at fork time, which Linux carries across execve)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(job: str, kwargs: dict, queue) -> None:
    from hanforge.corpus.dedup.components import run_components, run_tasks_in_process
    from hanforge.corpus.dedup.config import DedupConfig
    from hanforge.corpus.dedup.stages import CandidateStage, SignatureStage

    start = time.perf_counter()
    extra = {}
    if job == "signatures":
        stage = SignatureStage(kwargs["shards"], output=kwargs["output"], config=DedupConfig(**kwargs["config"]))
        for rank in range(len(kwargs["shards"])):
            list(stage.run(rank=rank))
    elif job == "candidates":
        cfg = DedupConfig(**kwargs["config"])
        stage = CandidateStage(output=kwargs["output"], config=cfg, num_shards=kwargs["num_shards"], reference=None)
        for rank in range(cfg.num_bucket_partitions):
            list(stage.run(rank=rank))
    elif job == "components":
        extra["rounds"] = run_components(run_tasks_in_process, output=kwargs["output"], parts=kwargs["parts"])
    queue.put({"peak_mib": peak_rss_mib(), "seconds": time.perf_counter() - start, **extra})


def measure(job: str, **kwargs) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(job, kwargs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def corpus(copies: int) -> Path:
    from dedup_bench import write_shards
    from dedup_data import build_benchmark

    folder = WORK / f"corpus-x{copies}"
    if not folder.exists():
        docs = build_benchmark()
        for c in range(copies):
            write_shards([{**d, "id": f"{c}/{d['id']}"} for d in docs], folder / f"copy{c}", num_shards=8)
        for c in range(copies):
            for p in sorted((folder / f"copy{c}" / "shards").glob("*.parquet")):
                p.rename(folder / f"c{c}-{p.name}")
    return folder


def synthetic_graph(output: Path, *, nodes: int, parts: int, seed: int = 0) -> int:
    """Plant clusters among ``nodes`` documents (40 % duplicates); write round-0 edge files."""
    from hanforge.corpus.dedup.layout import StateLayout, make_keys, node_partition, save_npy

    rng = np.random.default_rng(seed)
    keys = make_keys(0, np.arange(nodes))[rng.permutation(nodes)]
    in_clusters = int(nodes * 0.4)
    sizes = np.minimum(rng.zipf(2.0, size=in_clusters // 2) + 1, 200)
    sizes = sizes[np.cumsum(sizes) <= in_clusters]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    member_cluster = np.repeat(np.arange(len(sizes)), sizes)
    position = np.arange(len(member_cluster)) - np.repeat(starts, sizes)
    # a random tree per cluster (each member links to an earlier one) plus 50 % extra chords
    child = np.flatnonzero(position > 0)
    parent = np.repeat(starts, sizes)[child] + (rng.random(len(child)) * position[child]).astype(np.int64)
    chord = rng.choice(child, size=len(child) // 2)
    chord_to = np.repeat(starts, sizes)[chord] + (rng.random(len(chord)) * sizes[member_cluster[chord]]).astype(
        np.int64
    )
    a = np.concatenate([child, chord])
    b = np.concatenate([parent, chord_to])
    edges = np.stack([keys[a], keys[b]], axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    directed = np.concatenate([edges, edges[:, ::-1]])
    part = node_partition(directed[:, 0], parts)
    layout = StateLayout(output)
    for k in range(parts):
        save_npy(layout.cc_dir("ls", 0, k) / "c00000.npy", directed[part == k])
    return len(edges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000_000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"import-only baseline: {measure('none')['peak_mib']:.0f} MiB")
    print("| stage | corpus | shards | partitions | peak RSS per worker MiB | seconds |\n|---|---|---|---|---|---|")
    for copies in (1, 4):
        folder = corpus(copies)
        shards = [str(p) for p in sorted(folder.glob("*.parquet"))]
        out = WORK / f"state-x{copies}"
        shutil.rmtree(out, ignore_errors=True)
        config = {"band_partitions": copies, "graph_partitions": 4}
        sig = measure("signatures", shards=shards, output=str(out), config=config)
        cand = measure("candidates", output=str(out), config=config, num_shards=len(shards))
        print(f"| signatures | {copies}x | {len(shards)} | - | {sig['peak_mib']:.0f} | {sig['seconds']:.1f} |")
        from hanforge.corpus.dedup.config import DedupConfig

        partitions = DedupConfig(**config).num_bucket_partitions
        print(
            f"| candidates | {copies}x | {len(shards)} | {partitions} | {cand['peak_mib']:.0f} | {cand['seconds']:.1f} |",
            flush=True,
        )
    print(f"\ncomponents on a synthetic graph of {args.nodes:,} documents:\n")
    print(
        "| graph partitions | edges | whole edge set MiB (both directions) | peak RSS per worker MiB | rounds | seconds |"
    )
    print("|---|---|---|---|---|---|")
    for parts in (4, 16):
        out = WORK / f"graph-{parts}"
        shutil.rmtree(out, ignore_errors=True)
        num_edges = synthetic_graph(out, nodes=args.nodes, parts=parts)
        res = measure("components", output=str(out), parts=parts)
        print(
            f"| {parts} | {num_edges:,} | {num_edges * 32 / 2**20:.0f} | {res['peak_mib']:.0f} | {res['rounds']} | "
            f"{res['seconds']:.1f} |",
            flush=True,
        )
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
