"""``hanforge dedup``: exact + MinHash-LSH near-duplicate removal over Parquet text shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from hanforge.cli._cluster import add_executor, executor_options
from hanforge.cli._options import add_config, add_inputs, add_job_options, add_output, add_verb, given_options
from hanforge.config import read_toml

#: The line ``hanforge --help`` shows for this verb.
HELP = "remove exact and near-duplicate documents (MinHash-LSH, Korean-correct)"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "dedup", dedup_command, help=HELP)
    add_inputs(p, "shard folders (<dir>/shards or a folder of .parquet)")
    add_output(p)
    add_config(p, "pipelines.toml whose [dedup] section sets the defaults")
    p.add_argument("--threshold", type=float, help="Jaccard threshold (default: [dedup] threshold, 0.8)")
    p.add_argument("--keep", help="longest | first | quality:<column> (default: [dedup] keep, longest)")
    p.add_argument("--exact-only", action="store_true", help="exact duplicates only (no MinHash stages)")
    p.add_argument("--index", metavar="DIR", help="output folder of an earlier dedup run to deduplicate against")
    add_job_options(p, verbose=True)
    add_executor(p)


def dedup_command(args: argparse.Namespace) -> int:
    """Remove exact and near-duplicate documents from hanforge Parquet text shards.

    Writes <output>/shards (kept; dup_cluster_id, dup_cluster_size), <output>/excluded
    (drop_reason exact_duplicate or near_duplicate, duplicate_of = the kept document's id),
    <output>/stats.json, <output>/manifest.json and <output>/state (reusable with --index).
    Rerunning the same command resumes a killed run.

    Example:  hanforge dedup corpus/ --output deduped/ --threshold 0.8 --workers 8
    """
    from hanforge.console import print_dedup_summary, task_progress
    from hanforge.corpus.dedup.config import DedupConfig
    from hanforge.corpus.dedup.run import run_dedup
    from hanforge.output import SUBMITTED

    section = read_toml(args.config).get("dedup", {}) if args.config else {}
    overrides = given_options(args, "threshold", "keep")
    if args.exact_only:
        overrides["near"] = False
    config = DedupConfig.from_table(section, where="dedup").merge(overrides)
    output = Path(args.output)
    with task_progress(
        "dedup", quiet_logs=not args.verbose, show=not args.no_progress, log_path=output / "logs" / "console.log"
    ) as on_progress:
        how = given_options(args, "workers", "executor", "index", "overwrite")
        summary = run_dedup(
            args.inputs,
            output=output,
            config=config,
            on_progress=on_progress,
            executor_options=executor_options(args),
            **how,
        )
    if summary.state == SUBMITTED:
        print(
            f"submitted to Slurm up to stage {summary.submitted_stage}, as dependent jobs; a last job reruns "
            f"this command on the cluster and writes {output / 'stats.json'} (logs in {output / 'logs'})"
        )
        return 0
    print_dedup_summary(summary.stats, output=summary.output)
    return 0
