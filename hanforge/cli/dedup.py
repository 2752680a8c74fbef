"""``hanforge dedup``: exact + MinHash-LSH near-duplicate removal over Parquet text shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from hanforge.cli._cluster import add_executor, executor_options
from hanforge.cli._options import add_config, add_inputs, add_output, add_overwrite, add_progress, add_verb, add_workers
from hanforge.config import read_toml


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub, "dedup", dedup_command, help="remove exact and near-duplicate documents (MinHash-LSH, Korean-correct)"
    )
    add_inputs(p, "shard folders (<dir>/shards or a folder of .parquet)")
    add_output(p)
    add_config(p, "pipelines.toml whose [dedup] section sets the defaults")
    p.add_argument("--threshold", type=float, help="Jaccard threshold (default: [dedup] threshold, 0.8)")
    p.add_argument("--keep", help="longest | first | quality:<column> (default: [dedup] keep, longest)")
    p.add_argument("--exact-only", action="store_true", help="exact duplicates only (no MinHash stages)")
    p.add_argument("--index", metavar="DIR", help="output folder of an earlier dedup run to deduplicate against")
    add_workers(p)
    add_executor(p)
    add_overwrite(p)
    add_progress(p, verbose=True)


def dedup_command(args: argparse.Namespace) -> int:
    """Remove exact and near-duplicate documents from hanforge Parquet text shards.

    Writes <output>/shards (kept; dup_cluster_id, dup_cluster_size), <output>/excluded
    (drop_reason exact_duplicate or near_duplicate, duplicate_of = the kept document's id),
    <output>/stats.json, <output>/manifest.json and <output>/state (reusable with --index).
    Rerunning the same command resumes a killed run.

    Example:  hanforge dedup corpus/ --output deduped/ --threshold 0.8 --workers 8
    """
    from hanforge.corpus.dedup.config import DedupConfig
    from hanforge.corpus.dedup.run import run_dedup
    from hanforge.corpus.report import task_progress
    from hanforge.output import SUBMITTED

    table = dict(read_toml(args.config).get("dedup", {})) if args.config else {}
    if args.threshold is not None:
        table["threshold"] = args.threshold
    if args.keep is not None:
        table["keep"] = args.keep
    if args.exact_only:
        table["near"] = False
    config = DedupConfig.from_table(table, where="dedup")
    output = Path(args.output)
    with task_progress(
        "dedup", quiet_logs=not args.verbose, show=not args.no_progress, log_path=output / "logs" / "console.log"
    ) as on_progress:
        summary = run_dedup(
            args.inputs,
            output=output,
            config=config,
            workers=args.workers,
            executor=args.executor,
            executor_options=executor_options(args),
            index=args.index,
            overwrite=args.overwrite,
            on_progress=on_progress,
        )
    if summary.state == SUBMITTED:
        print(
            f"submitted to Slurm up to stage {summary.submitted_stage}, as dependent jobs; a last job reruns "
            f"this command on the cluster and writes {output / 'stats.json'} (logs in {output / 'logs'})"
        )
        return 0
    print_dedup_summary(summary.stats, output=summary.output)
    return 0


def print_dedup_summary(stats: dict, *, output: Path) -> None:
    """A short readable summary of stats.json."""
    docs = stats["documents"]
    console = Console()
    console.print(
        f"[bold]{docs['input']:,}[/] documents in → [green]{docs['kept']:,} kept[/], "
        f"[yellow]{docs['exact_duplicate']:,} exact[/] + [yellow]{docs['near_duplicate']:,} near[/] "
        f"duplicates removed; {stats['clusters']:,} clusters (largest {stats['largest_cluster']:,})."
    )
    console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in stats["seconds"].items()))
    console.print(f"shards: {output / 'shards'}  excluded: {output / 'excluded'}")
