"""Executor options for the verbs that take ``--executor`` but no pipeline (``dedup``,
``tokenize``): the ``[ray]`` / ``[slurm]`` tables of a pipeline in pipelines.toml (``--config``,
else ./pipelines.toml, else the shipped one; ``--pipeline``, else its default pipeline)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_executor(p: argparse.ArgumentParser, *, with_pipeline: bool = True) -> None:
    p.add_argument("--executor", choices=["local", "ray", "slurm"], default="local", help="where tasks run")
    if with_pipeline:
        p.add_argument(
            "--pipeline", help="pipeline whose [ray]/[slurm] tables configure --executor (default: the default one)"
        )


def executor_options(args: argparse.Namespace):
    """The RayConfig or SlurmConfig for ``args.executor`` (None for local)."""
    if args.executor == "local":
        return None
    from hanforge.corpus.pipeline import default_config_path, load_pipelines

    path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    cfg = load_pipelines(path).pipeline(getattr(args, "pipeline", None))
    return cfg.ray if args.executor == "ray" else cfg.slurm
