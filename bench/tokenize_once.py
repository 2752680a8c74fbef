"""What keeping the mix's token ids saves: ``hanforge mix`` → ``hanforge tokenize`` with the ids
counted by the mix reused (``token_ids = true``, the default) against the two-pass path that
tokenizes every document twice (``token_ids = false``), side by side in one command.

Run (from the repo root; default input: the LibreOffice and held-out shards of
bench/tokens_data.py)::

    PYTHONPATH=. python bench/tokenize_once.py [--repeats 3] [--input NAME=FOLDER ...]

Each ``--input`` is a source of the mix (ratio: its share of the tokens; budget: 90% of all
tokens, so most documents are sampled once and some not at all). Each repeat runs both paths in
alternating order (A B, then B A, ...), each as mix then tokenize (seq_len 4096) into fresh
folders, in this process. Reported: CPU seconds (``time.process_time``: all threads of the
process, which is what a stage costs on a shared machine) and wall seconds, best and median of
the repeats, per stage and for mix + tokenize, and the ratio two-pass / once. Every repeat checks
that both paths wrote byte-identical token shards and manifests.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pyarrow.parquet as pq
import tokens_data

from hanforge.corpus.mix import MixConfig, mix_sources
from hanforge.shards.text_reader import text_shard_files
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_job import tokenize_shards


def count_tokens(folder: Path, loaded) -> int:
    """Tokens of a source as the mix counts them (EOS per non-empty document)."""
    total = 0
    for _, path in text_shard_files([folder]):
        _, lengths = loaded.encoder.encode(pq.read_table(path, columns=["text"])["text"])
        total += int(lengths.sum() + (lengths > 0).sum())
    return total


def files(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_path(work: Path, *, keep_ids: bool, sources: dict, total: int, tokenizer: Path, seq_len: int) -> dict:
    out = work / ("once" if keep_ids else "twice")
    shutil.rmtree(out, ignore_errors=True)
    config = MixConfig.from_table(
        {
            "output": str(out / "mix"),
            "total": total,
            "tokenizer": str(tokenizer),
            "max_epochs": 2.0,
            "token_ids": keep_ids,
            "sources": sources,
        },
        where="mix",
    )
    times = {}
    t, c = time.perf_counter(), time.process_time()
    mix_sources(config)
    times["mix"] = (time.process_time() - c, time.perf_counter() - t)
    reused = []
    t, c = time.perf_counter(), time.process_time()
    manifest = tokenize_shards(
        inputs=[out / "mix"],
        tokenizer=tokenizer,
        seq_len=seq_len,
        output=out / "tokens",
        progress=False,
        on_reused=lambda n, total: reused.append(n),
    )
    times["tokenize"] = (time.process_time() - c, time.perf_counter() - t)
    return {"times": times, "tokens": manifest["num_tokens"], "reused": sum(reused), "out": out / "tokens"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--work", type=Path, default=tokens_data.DEFAULT_WORK)
    ap.add_argument("--tokenizer", type=Path, default=None, help="default: tokens_data's 32k tokenizer in --work")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FOLDER", help="a mix source (repeatable)")
    args = ap.parse_args()
    tokenizer = args.tokenizer or tokens_data.trained_tokenizer(args.work)
    if args.input:
        folders = {k: Path(v) for k, v in (x.split("=", 1) for x in args.input)}
    else:
        train, held = tokens_data.text_shards(args.work)
        folders = {"libreoffice": train, "heldout": held}
    loaded = load_tokenizer(tokenizer)
    counts = {name: count_tokens(folder, loaded) for name, folder in folders.items()}
    all_tokens = sum(counts.values())
    ratios = {name: n / all_tokens for name, n in counts.items()}
    ratios[next(iter(ratios))] += 1.0 - sum(ratios.values())  # add up to exactly 1
    sources = {name: {"path": str(folders[name]), "ratio": r} for name, r in ratios.items()}
    total = int(0.9 * all_tokens)
    work = args.work / "bench-tokenize-once"
    runs = {True: [], False: []}
    for repeat in range(args.repeats):
        order = (False, True) if repeat % 2 == 0 else (True, False)
        got = {}
        for keep in order:
            got[keep] = one_path(
                work, keep_ids=keep, sources=sources, total=total, tokenizer=tokenizer, seq_len=args.seq_len
            )
            runs[keep].append(got[keep])
        if files(got[True]["out"]) != files(got[False]["out"]):
            raise SystemExit("the two paths wrote different token shards")
        assert got[False]["reused"] == 0 and got[True]["reused"] > 0
    shutil.rmtree(work)

    docs = sum(pq.ParquetFile(p).metadata.num_rows for f in folders.values() for _, p in text_shard_files([f]))
    print(
        f"sources: {', '.join(f'{k} {counts[k]:,} tokens' for k in folders)} ({docs:,} docs); mix budget {total:,} "
        f"tokens → {runs[True][0]['tokens']:,} tokens packed; seq_len {args.seq_len}; {args.repeats} repeats, "
        "alternating; token shards and manifests byte-identical between the paths in every repeat"
    )
    print(
        "| stage | two-pass CPU s (best / median) | once CPU s | CPU ratio two-pass / once (best / median) "
        "| two-pass wall s (median) | once wall s (median) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for stage in ("mix", "tokenize", "mix + tokenize"):

        def pick(keep: bool, index: int, stage: str = stage) -> list[float]:
            parts = ("mix", "tokenize") if stage == "mix + tokenize" else (stage,)
            return [sum(r["times"][p][index] for p in parts) for r in runs[keep]]

        twice, once = pick(False, 0), pick(True, 0)
        print(
            f"| {stage} | {min(twice):.2f} / {statistics.median(twice):.2f} | {min(once):.2f} / "
            f"{statistics.median(once):.2f} | {min(twice) / min(once):.2f}x / "
            f"{statistics.median(twice) / statistics.median(once):.2f}x | "
            f"{statistics.median(pick(False, 1)):.2f} | {statistics.median(pick(True, 1)):.2f} |"
        )
    print(f"shards whose ids were reused by tokenize: {runs[True][0]['reused']} (of the mix's shards)")


if __name__ == "__main__":
    main()
