"""Near-duplicate benchmark: hanforge dedup vs datatrove MinHash on the same Korean set.

One command, both side by side:

    .venv/bin/python bench/dedup_bench.py --report bench/results/dedup-run.md

1. quality: precision / recall / F1 at threshold 0.8 against exact Jaccard ground truth
   (bench/dedup_data.py), for hanforge (``run_dedup``, default config) and datatrove's
   MinHash pipeline (MinhashConfig() defaults, language "eng" default: datatrove's Korean
   tokenizer needs kiwipiepy<0.22, not installable here); pair level (pairs inside one output
   cluster) and document level (a document is a duplicate if it has a partner >= 0.8);
2. the shingling study (mean exact Jaccard of each variant kind to its original under several
   shingle schemes) and the LSH sweep (bands x rows, verify on/off; same signatures, in process);
3. speed: signature throughput on one core for hanforge's numpy MinHash, datasketch, rensa and
   datatrove's MinhashDedupSignature on the same texts; end-to-end time of both pipelines.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_data import build_benchmark, shingle_sets, true_pairs

from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.dedup.shingles import MinhashScheme, MinhashSignatures, jaccard, normalize_for_hashing

THRESHOLD = 0.8
WORK = Path("/tmp/hanforge-dedup-bench")


def cluster_pairs(labels: list) -> set[tuple[int, int]]:
    groups = collections.defaultdict(list)
    for i, label in enumerate(labels):
        if label is not None:
            groups[label].append(i)
    return {p for members in groups.values() for p in itertools.combinations(sorted(members), 2)}


def oracle_labels(truth: set, num_docs: int) -> list:
    """Connected components of the true similarity graph: the best any component-based dedup can do."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.array(sorted(truth)) if truth else np.empty((0, 2), dtype=np.int64)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(num_docs, num_docs))
    _, labels = connected_components(graph, directed=False)
    sizes = collections.Counter(labels.tolist())
    return [lab if sizes[lab] > 1 else None for lab in labels.tolist()]


def link_precision(labels: list, removed: list[bool], truth: set) -> float:
    """Fraction of removed documents whose similarity to their cluster's kept document is >= threshold."""
    kept_of = {lab: i for i, lab in enumerate(labels) if lab is not None and not removed[i]}
    links = [
        tuple(sorted((i, kept_of[lab])))
        for i, lab in enumerate(labels)
        if lab is not None and removed[i] and lab in kept_of
    ]
    return sum(link in truth for link in links) / len(links) if links else 1.0


def scores(predicted: set, truth: set, num_docs: int) -> dict:
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    dup_true = {i for pair in truth for i in pair}
    dup_pred = {i for pair in predicted for i in pair}
    dtp = len(dup_true & dup_pred)
    dp = dtp / len(dup_pred) if dup_pred else 1.0
    dr = dtp / len(dup_true) if dup_true else 1.0
    f = lambda a, b: 2 * a * b / (a + b) if a + b else 0.0  # noqa: E731
    return {
        "pairs": len(predicted),
        "precision": p,
        "recall": r,
        "f1": f(p, r),
        "doc_precision": dp,
        "doc_recall": dr,
        "doc_f1": f(dp, dr),
    }


def write_shards(docs: list[dict], folder: Path, *, num_shards: int = 8) -> None:
    from hanforge.shards.text_writer import TextShardWriter

    for s in range(num_shards):
        writer = TextShardWriter(folder / "shards", prefix=f"{s:05d}")
        writer.write_rows(
            [
                {"id": d["id"], "text": d["text"], "source": "bench", "num_chars": len(d["text"])}
                for d in docs[s::num_shards]
            ]
        )
        writer.close()


def run_hanforge(docs, folder: Path, *, workers: int, split: bool = False) -> tuple[list, float]:
    import polars as pl

    from hanforge.corpus.dedup.run import run_dedup

    out = WORK / "hanforge-out"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = run_dedup(
        [folder], output=out, config=DedupConfig(threshold=THRESHOLD, split_clusters=split), workers=workers
    )
    seconds = time.perf_counter() - start
    frame = pl.concat([pl.read_parquet(out / "shards"), pl.read_parquet(out / "excluded")])
    label = dict(zip(frame["id"].to_list(), frame["dup_cluster_id"].to_list()))
    size = dict(zip(frame["id"].to_list(), frame["dup_cluster_size"].to_list()))
    removed = set(pl.read_parquet(out / "excluded")["id"].to_list())
    labels = [label[d["id"]] if size[d["id"]] > 1 else None for d in docs]
    return labels, [d["id"] in removed for d in docs], seconds, summary.stats


def run_datatrove(docs, folder: Path) -> tuple[list, float]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    base = WORK / "datatrove"
    shutil.rmtree(base, ignore_errors=True)
    config = MinhashConfig()
    reader = lambda: ParquetReader(str(folder / "shards"), text_key="text", id_key="id")  # noqa: E731
    stages = [
        [reader(), MinhashDedupSignature(output_folder=str(base / "sigs"), config=config)],
        [MinhashDedupBuckets(input_folder=str(base / "sigs"), output_folder=str(base / "buckets"), config=config)],
        [
            MinhashDedupCluster(
                input_folder=str(base / "buckets"),
                output_folder=str(base / "remove"),
                config=config,
                save_cluster_id=True,
                save_cluster_size=True,
            )
        ],
        [
            reader(),
            MinhashDedupFilter(
                input_folder=str(base / "remove"),
                load_cluster_ids=True,
                load_cluster_sizes=True,
                exclusion_writer=JsonlWriter(str(base / "removed"), compression=None),
            ),
            JsonlWriter(str(base / "kept"), compression=None),
        ],
    ]
    tasks = [1, config.num_buckets, 1, 1]
    start = time.perf_counter()
    for n, (pipeline, t) in enumerate(zip(stages, tasks)):
        LocalPipelineExecutor(pipeline, tasks=t, workers=1, logging_dir=str(base / f"logs{n}")).run()
    seconds = time.perf_counter() - start
    label, removed = {}, set()
    for path in list((base / "removed").glob("*.jsonl")):
        removed.update(json.loads(line)["id"] for line in path.read_text(encoding="utf-8").split("\n") if line)
    for path in list((base / "kept").glob("*.jsonl")) + list((base / "removed").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line:
                continue
            rec = json.loads(line)
            cid = rec["metadata"].get("minhash_cluster_id")
            label[rec["id"]] = None if cid in (None, -1) else cid
    return [label.get(d["id"]) for d in docs], [d["id"] in removed for d in docs], seconds


def shingling_study(docs: list[dict]) -> str:
    schemes = {
        "char-3": MinhashScheme("char", 3),
        "char-5": MinhashScheme("char", 5),
        "char-7": MinhashScheme("char", 7),
        "eojeol-1": MinhashScheme("eojeol", 1),
        "eojeol-2": MinhashScheme("eojeol", 2),
        "eojeol-3": MinhashScheme("eojeol", 3),
    }
    by_id = {d["id"]: d for d in docs}
    kinds = sorted({d["variant"] for d in docs} - {"background", "hard_negative"})
    negatives = [d for d in docs if d["variant"] == "hard_negative"][:60]
    rows = ["| variant | " + " | ".join(schemes) + " |", "|---" * (len(schemes) + 1) + "|"]
    table = {k: [] for k in kinds}
    neg = []
    for _name, scheme in schemes.items():
        sims = collections.defaultdict(list)
        for d in docs:
            if d["variant"] in table:
                a, b = shingle_sets([by_id[d["group"]]["text"], d["text"]], scheme)
                sims[d["variant"]].append(jaccard(a, b))
        for k in kinds:
            table[k].append(f"{np.mean(sims[k]):.3f}")
        nsets = shingle_sets([d["text"] for d in negatives], scheme)
        nsims = [jaccard(nsets[i], nsets[j]) for i, j in itertools.combinations(range(len(nsets)), 2)]
        neg.append(f"{np.mean(nsims):.3f} / {np.max(nsims):.3f}")
    rows += [f"| {k} | " + " | ".join(v) + " |" for k, v in table.items()]
    rows.append("| hard negatives (mean / max pair) | " + " | ".join(neg) + " |")
    return "\n".join(rows)


def lsh_sweep(docs: list[dict], truth: set) -> str:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    texts = [d["text"] for d in docs]
    rows = [
        "| bands x rows | P(cand) at J=0.5 / 0.6 / 0.7 / 0.8 / 0.9 | verify | precision | recall | F1 | doc F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for bands, r in ((14, 8), (16, 8), (20, 6), (25, 5), (9, 13), (8, 16)):
        mh = MinhashSignatures(MinhashScheme("char", 5, bands, r))
        sigs = mh.signatures(shingle_sets(texts, mh.scheme))
        bh = mh.band_hashes(sigs)
        cand = set()
        for b in range(bands):
            groups = collections.defaultdict(list)
            for i, h in enumerate(bh[:, b].tolist()):
                groups[h].append(i)
            for g in groups.values():
                cand.update(itertools.combinations(g, 2))
        curve = " / ".join(f"{1 - (1 - s**r) ** bands:.3f}" for s in (0.5, 0.6, 0.7, 0.8, 0.9))
        for verify in (False, True):
            edges = [p for p in cand if not verify or (sigs[p[0]] == sigs[p[1]]).mean() >= THRESHOLD]
            if edges:
                e = np.array(edges)
                graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(len(docs), len(docs)))
                _, labels = connected_components(graph, directed=False)
            else:
                labels = np.arange(len(docs))
            sizes = collections.Counter(labels.tolist())
            s = scores(cluster_pairs([lab if sizes[lab] > 1 else None for lab in labels.tolist()]), truth, len(docs))
            rows.append(
                f"| {bands} x {r} | {curve} | {'yes' if verify else 'no'} | {s['precision']:.3f} | "
                f"{s['recall']:.3f} | {s['f1']:.3f} | {s['doc_f1']:.3f} |"
            )
    return "\n".join(rows)


def signature_speed(texts: list[str]) -> dict[str, float]:
    """Seconds to sign ``texts`` on one core, per implementation (normalization included).

    datasketch is in no extra (issue #16: it beat nothing hanforge has); its row is measured when
    it is installed (``pip install 'datasketch>=1.6'``) and left out otherwise.
    """
    import rensa
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    out = {}
    mh = MinhashSignatures(MinhashScheme("char", 5, 20, 6))  # 120 perms, as the other engines here
    start = time.perf_counter()
    for b in range(0, len(texts), 1024):  # as the signature stage does it: one rensa call per batch
        mh.signatures([mh.scheme.shingles(normalize_for_hashing(t)) for t in texts[b : b + 1024]])
    out["hanforge: numpy shingles + rensa flat-hash MinHash (char 5-gram, 120 perms)"] = time.perf_counter() - start
    start = time.perf_counter()
    for t in texts:
        mh.signature_numpy(mh.scheme.shingles(normalize_for_hashing(t)))
    out["hanforge: numpy shingles + numpy multiply-shift MinHash (reference)"] = time.perf_counter() - start

    def grams(t):
        norm = normalize_for_hashing(t)
        return {norm[i : i + 5] for i in range(max(len(norm) - 4, 1))}

    try:
        import datasketch
    except ImportError:
        print("datasketch not installed: its row is left out (pip install 'datasketch>=1.6')")
    else:
        start = time.perf_counter()
        for t in texts:
            m = datasketch.MinHash(num_perm=120, seed=1)
            m.update_batch([g.encode("utf-8") for g in grams(t)])
        out["datasketch MinHash (same shingles)"] = time.perf_counter() - start
    start = time.perf_counter()
    for t in texts:
        m = rensa.RMinHash(num_perm=120, seed=1)
        m.update(list(grams(t)))
        m.digest()
    out["rensa RMinHash string API (same shingles)"] = time.perf_counter() - start
    folder = WORK / "dt-speed"
    shutil.rmtree(folder, ignore_errors=True)
    step = MinhashDedupSignature(output_folder=str(folder), config=MinhashConfig())
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    start = time.perf_counter()
    step.run(iter(docs), rank=0, world_size=1)  # writes its signature files, returns None
    out["datatrove MinhashDedupSignature (default)"] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", help="write the markdown figures here")
    parser.add_argument("--workers", type=int, default=1, help="hanforge workers (datatrove runs with 1)")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    docs = build_benchmark()
    folder = WORK / "input"
    shutil.rmtree(folder, ignore_errors=True)
    write_shards(docs, folder)
    sets = shingle_sets([d["text"] for d in docs], MinhashScheme("char", 5))
    truth = set(true_pairs(sets, THRESHOLD))
    report = [
        f"benchmark: {len(docs)} documents, {len(truth)} true pairs (exact char-5 Jaccard >= {THRESHOLD}), "
        f"{len({i for p in truth for i in p})} documents with a true partner"
    ]
    labels, removed, hf_seconds, hf_stats = run_hanforge(docs, folder, workers=args.workers)
    hf = scores(cluster_pairs(labels), truth, len(docs))
    hf["link_precision"] = link_precision(labels, removed, truth)
    labels, removed, sp_seconds, sp_stats = run_hanforge(docs, folder, workers=args.workers, split=True)
    sp = scores(cluster_pairs(labels), truth, len(docs))
    sp["link_precision"] = link_precision(labels, removed, truth)
    labels, removed, dt_seconds = run_datatrove(docs, folder)
    dt = scores(cluster_pairs(labels), truth, len(docs))
    dt["link_precision"] = link_precision(labels, removed, truth)
    oracle = scores(cluster_pairs(oracle_labels(truth, len(docs))), truth, len(docs))
    oracle["link_precision"] = float("nan")
    report += [
        "",
        "| system | doc precision | doc recall | doc F1 | removal-link precision | cluster pairs | "
        "pair precision | pair recall | pair F1 | end-to-end s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s, sec in (
        ("hanforge dedup (default)", hf, hf_seconds),
        ("hanforge dedup, split_clusters = true", sp, sp_seconds),
        ("datatrove MinHash (default)", dt, dt_seconds),
        ("ceiling: components of the true >= 0.8 graph", oracle, float("nan")),
    ):
        report.append(
            f"| {name} | {s['doc_precision']:.3f} | {s['doc_recall']:.3f} | {s['doc_f1']:.3f} | "
            f"{s['link_precision']:.3f} | {s['pairs']} | {s['precision']:.3f} | {s['recall']:.3f} | "
            f"{s['f1']:.3f} | {sec:.1f} |"
        )
    report += [
        "",
        f"hanforge stats: {json.dumps(hf_stats, ensure_ascii=False)}",
        "",
        "end-to-end ratio datatrove / hanforge: " + f"{dt_seconds / hf_seconds:.2f}x",
        "",
    ]
    print("\n".join(report), flush=True)
    speed_texts = [d["text"] for d in docs[:1500]]
    mb = sum(len(t.encode("utf-8")) for t in speed_texts) / 1e6
    speed = signature_speed(speed_texts)
    dt_time = speed["datatrove MinhashDedupSignature (default)"]
    report += [
        f"signature throughput, one core, {len(speed_texts)} documents ({mb:.1f} MB UTF-8):",
        "",
        "| implementation | seconds | docs/s | MB/s | speed vs datatrove |",
        "|---|---|---|---|---|",
    ]
    for name, sec in speed.items():
        report.append(f"| {name} | {sec:.2f} | {len(speed_texts) / sec:.0f} | {mb / sec:.2f} | {dt_time / sec:.1f}x |")
    print("\n".join(report[-len(speed) - 4 :]), flush=True)
    report += [
        "",
        "shingling study: mean exact Jaccard of each variant to its original",
        "",
        shingling_study(docs),
        "",
        "LSH sweep (char 5-grams, same data; in-process banding + connected components):",
        "",
        lsh_sweep(docs, truth),
    ]
    text = "\n".join(report)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
