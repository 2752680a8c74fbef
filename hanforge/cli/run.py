"""``hanforge run``: run a corpus pipeline from pipelines.toml (default: the embedded sample)."""

from __future__ import annotations

import argparse
from pathlib import Path



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a corpus pipeline (default: the embedded Korean sample)",
                       description=run_command.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", help="pipelines file (default: ./pipelines.toml)")
    p.add_argument("--pipeline", help="pipeline name (default: the file's default_pipeline)")
    p.add_argument("--input", nargs="+", dest="inputs", metavar="PATH",
                   help="input files or folders; the reader is picked from the file type")
    p.add_argument("--source", help="value of the source column (default: input folder/file name)")
    p.add_argument("--output", help="output folder")
    p.add_argument("--workers", type=int, help="processes running tasks at once")
    p.add_argument("--tasks", type=int, help="number of tasks (fixes the shard layout; default from config)")
    p.add_argument("--executor", choices=["local", "ray", "slurm"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder of another run")
    p.add_argument("--list", action="store_true", help="list the pipelines in the file and exit")
    p.add_argument("--verbose", action="store_true", help="show datatrove's task logs on the console")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run a corpus pipeline: inputs → decode → extract → normalize → filters → PII → shards.

    Writes <output>/shards/*.parquet (kept), <output>/excluded/*.parquet (dropped, with
    drop_reason and drop_step), <output>/stats.json and <output>/manifest.json. Rerunning the
    same command resumes: finished tasks are skipped.

    Example:  hanforge run pipelines.toml --pipeline korean-web --input crawl/ --workers 8
    """
    from hanforge.corpus.pipeline import default_config_path, load_pipelines
    from hanforge.corpus.report import print_run_summary, task_progress
    from hanforge.corpus.runner import run_pipeline

    config_path = Path(args.config) if args.config else default_config_path()
    pipelines = load_pipelines(config_path)
    if args.list:
        for name, cfg in pipelines.pipelines.items():
            marker = "*" if name == pipelines.default_pipeline else " "
            print(f"{marker} {name}: {cfg.description}")
        return 0
    cfg = pipelines.pipeline(args.pipeline)
    changes = {}
    if args.inputs:
        changes["inputs"] = [str(Path(p).resolve()) if "://" not in p else p for p in args.inputs]
    for key in ("source", "output", "workers", "tasks", "executor"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if changes:
        cfg = cfg.replace(**changes)
    with task_progress(f"hanforge run · {cfg.name}", quiet_logs=not args.verbose,
                       log_path=Path(cfg.output) / "logs" / "console.log") as on_progress:
        summary = run_pipeline(cfg, overwrite=args.overwrite, on_progress=on_progress)
    if summary.submitted_only:
        print(f"submitted {summary.tasks} tasks to Slurm; logs in {summary.output / 'logs'}; "
              "rerun the same command after they finish to write stats.json and manifest.json")
        return 0
    print_run_summary(summary.stats, output=summary.output)
    return 0
