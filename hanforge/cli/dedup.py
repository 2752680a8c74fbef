"""``hanforge dedup``: exact + MinHash-LSH near-duplicate removal over Parquet text shards."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from rich.console import Console

from hanforge.config import read_toml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dedup", help="remove exact and near-duplicate documents (MinHash-LSH, Korean-correct)",
                       description=dedup_command.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="shard folders (<dir>/shards or a folder of .parquet)")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--config", help="pipelines.toml whose [dedup] section sets the defaults")
    p.add_argument("--threshold", type=float, help="Jaccard threshold (default 0.8)")
    p.add_argument("--keep", help="longest | first | quality:<column> (default longest)")
    p.add_argument("--exact-only", action="store_true", help="exact duplicates only (no MinHash stages)")
    p.add_argument("--index", help="output folder of an earlier dedup run to deduplicate against")
    p.add_argument("--workers", type=int, default=1, help="processes running tasks at once")
    p.add_argument("--executor", choices=["local", "ray", "slurm"], default="local")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder of another run")
    p.add_argument("--verbose", action="store_true", help="show datatrove's task logs on the console")
    p.set_defaults(func=dedup_command)


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

    table = read_toml(args.config).get("dedup", {}) if args.config else {}
    config = DedupConfig.from_table(table, where="dedup")
    changes = {}
    if args.threshold is not None:
        changes["threshold"] = args.threshold
    if args.keep is not None:
        changes["keep"] = args.keep
    if args.exact_only:
        changes["near"] = False
    if changes:
        config = DedupConfig.from_table({**config.to_dict(), **changes}, where="dedup")
    output = Path(args.output)
    with dedup_progress(quiet_logs=not args.verbose, log_path=output / "logs" / "console.log") as on_progress:
        summary = run_dedup(args.inputs, output=output, config=config, workers=args.workers,
                            executor=args.executor, index=args.index, overwrite=args.overwrite,
                            on_progress=on_progress)
    if summary.waiting_for:
        print(f"stage {summary.waiting_for} was submitted to Slurm; rerun the same command after it finishes "
              "to run the next stages (finished tasks are skipped)")
        return 0
    print_dedup_summary(summary.stats, output=summary.output)
    return 0


@contextlib.contextmanager
def dedup_progress(*, quiet_logs: bool, log_path: Path):
    """One rich progress bar per stage; with ``quiet_logs`` task logs (fd 2) go to ``log_path``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("tasks"), TimeElapsedColumn(), console=Console(file=sys.stdout))
    bars: dict[str, int] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress.add_task(f"dedup · {stage}", total=total)
        progress.update(bars[stage], completed=done)

    from hanforge.corpus.report import stderr_to_file

    redirect = stderr_to_file(log_path) if quiet_logs else contextlib.nullcontext()
    with progress, redirect:
        yield on_progress


def print_dedup_summary(stats: dict, *, output: Path) -> None:
    """A short readable summary of stats.json."""
    docs = stats["documents"]
    console = Console()
    console.print(f"[bold]{docs['input']:,}[/] documents in → [green]{docs['kept']:,} kept[/], "
                  f"[yellow]{docs['exact_duplicate']:,} exact[/] + [yellow]{docs['near_duplicate']:,} near[/] "
                  f"duplicates removed; {stats['clusters']:,} clusters (largest {stats['largest_cluster']:,}).")
    console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in stats["seconds"].items()))
    console.print(f"shards: {output / 'shards'}  excluded: {output / 'excluded'}")



