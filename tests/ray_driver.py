"""A hanforge driver process for the multi-node Ray tests: ``python tests/ray_driver.py VERB
ADDRESS OUTPUT [INPUT]`` runs ``run`` (the sample pipeline), ``dedup`` (of INPUT) or ``tokenize``
(INPUT = "SHARDS,TOKENIZER") on the Ray cluster at ADDRESS. It runs in its own process because Ray reads RAY_AUTH_MODE once per process
and the test process may already hold a local Ray instance without authentication."""

from __future__ import annotations

import sys
from pathlib import Path

from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.dedup.run import run_dedup
from hanforge.corpus.pipeline import RayConfig, load_pipelines
from hanforge.corpus.runner import run_pipeline
from hanforge.corpus.tokenize_tasks import tokenize_on_cluster

REPO = Path(__file__).resolve().parents[1]
#: The test's Ray nodes have one CPU each; a task asks for little memory so either node fits it.
OPTIONS = {"cpus_per_task": 1, "mem_per_cpu_gb": 0.25}
#: tokenize settings shared with the test's local run
TOKENIZE = {"seq_len": 96, "rows_per_shard": 50, "shuffle_seed": 3, "progress": False}


def main(verb: str, address: str, output: str, source: str | None = None) -> None:
    options = RayConfig(address=address, **OPTIONS)
    if verb == "run":
        cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
        cfg = cfg.merge({"output": output, "tasks": 4, "workers": 2, "executor": "ray", "ray": options})
        print(run_pipeline(cfg).stats["documents"])
    elif verb == "dedup":
        config = DedupConfig(bands=4, rows=8, graph_partitions=1)  # few tasks per stage, as the test's local run
        summary = run_dedup([source], output=output, config=config, workers=2, executor="ray", executor_options=options)
        print(summary.stats["documents"])
    elif verb == "tokenize":  # source: "SHARDS_FOLDER,TOKENIZER"
        shards, tokenizer = source.split(",")
        manifest = tokenize_on_cluster(
            executor="ray",
            executor_options=options,
            workers=2,
            inputs=[shards],
            tokenizer=tokenizer,
            output=output,
            **TOKENIZE,
        )
        print(manifest["num_docs"])
    else:
        raise SystemExit(f"unknown verb {verb!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
