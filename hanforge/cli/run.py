"""``hanforge run``: run a corpus pipeline from pipelines.toml (default: the embedded sample)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hanforge.cli._options import add_config, add_inputs, add_job_options, add_output, add_verb, given_options
from hanforge.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "run", run_command, help="run a corpus pipeline (default: the embedded Korean sample)")
    add_inputs(
        p,
        "input files or folders, replacing the pipeline's inputs; the reader is picked from the file type",
        required=False,
    )
    add_config(p, "pipelines file (default: ./pipelines.toml, else the one shipped with hanforge)")
    p.add_argument("--pipeline", help="pipeline name (default: the file's default_pipeline)")
    add_output(p, "output folder (default: the pipeline's output)", required=False)
    p.add_argument("--source", help="value of the source column (default: input folder/file name)")
    add_job_options(p, workers=None, verbose=True)
    p.add_argument(
        "--tasks", type=int, metavar="N", help="number of tasks (fixes the shard layout; default from config)"
    )
    p.add_argument("--executor", choices=["local", "ray", "slurm"], help="where tasks run (default from config)")
    p.add_argument("--list", action="store_true", help="list the pipelines in the file and exit")


def run_command(args: argparse.Namespace) -> int:
    """Run a corpus pipeline: inputs → decode → extract → normalize → filters → PII → shards.

    Writes <output>/shards/*.parquet (kept), <output>/excluded/*.parquet (dropped, with
    drop_reason and drop_step), <output>/stats.json and <output>/manifest.json. Rerunning the
    same command resumes: finished tasks are skipped. With no config file in the working
    directory the pipelines shipped with hanforge are used (hanforge init writes a copy).

    Examples:  hanforge run
               hanforge run crawl/ --config pipelines.toml --pipeline korean-web --workers 8
    """
    from hanforge.console import print_run_summary, task_progress
    from hanforge.corpus.pipeline import default_config_path, load_pipelines
    from hanforge.corpus.runner import run_pipeline
    from hanforge.output import SUBMITTED

    for item in args.inputs:
        if item.endswith(".toml"):
            raise ConfigError(f"{item}: a config file is passed as --config {item}, inputs are data files or folders")
    config_path = Path(args.config) if args.config else default_config_path()
    pipelines = load_pipelines(config_path)
    if args.list:
        for name, cfg in pipelines.pipelines.items():
            marker = "*" if name == pipelines.default_pipeline else " "
            print(f"{marker} {name}: {cfg.description}")
        return 0
    overrides = given_options(args, "source", "output", "workers", "tasks", "executor")
    if args.inputs:
        overrides["inputs"] = [str(Path(p).resolve()) if "://" not in p else p for p in args.inputs]
    cfg = pipelines.pipeline(args.pipeline).merge(overrides)
    with task_progress(
        f"hanforge run · {cfg.name}",
        quiet_logs=not args.verbose,
        show=not args.no_progress,
        log_path=Path(cfg.output) / "logs" / "console.log",
    ) as on_progress:
        summary = run_pipeline(cfg, overwrite=args.overwrite, on_progress=on_progress)
    if summary.state == SUBMITTED:
        print(
            f"submitted {summary.tasks} tasks to Slurm; logs in {summary.output / 'logs'}; "
            "rerun the same command after they finish to write stats.json and manifest.json"
        )
        return 0
    if summary.num_tasks_skipped:
        print(f"resumed: {summary.num_tasks_skipped} of {summary.tasks} tasks were already done and skipped")
    print_run_summary(summary.stats, output=summary.output)
    return 0
