"""``hanforge tokenize`` on datatrove's Ray and Slurm executors.

Phase 1 of :func:`~hanforge.tokenizer.tokenize_job.tokenize_shards` (token ids per input shard,
one ``_work/in-NNNNN.arrow`` each) becomes one datatrove task per input shard
(:class:`TokenizeShardStep`, rank = input index), so any number of nodes share it; phase 2
(the global shuffle and packing) reads every work file and stays one process. On Ray the
driver waits for the tasks and packs. On Slurm the tasks are a job array and the packing is a
second job that depends on it (``afterok``; :mod:`hanforge.corpus.slurm_chain`): it reruns the
same tokenize command, which finds every input tokenized and packs. Either way the output is
the local run's, byte for byte: the work files are those the local pool writes, and packing is
the same code on the same files. The work folder must be on a file system every node sees.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from datatrove.pipeline.base import PipelineStep

from hanforge.corpus.pipeline import RayConfig, SlurmConfig
from hanforge.corpus.runner import execute_steps
from hanforge.corpus.slurm_chain import submit_resume
from hanforge.errors import IncompleteRunError
from hanforge.tokenizer.tokenize_job import _tokenize_one, tokenize_shards

LOGS = "logs"  # <output>/logs/: datatrove's logs of the tasks and of the packing job (kept)


class TokenizeShardStep(PipelineStep):
    """Phase 1 for input shard ``rank``: tokenize it unless its work file is already valid."""

    type = "hanforge"
    name = "hanforge: tokenize shard"

    def __init__(self, jobs: dict[int, dict[str, Any]]) -> None:
        super().__init__()
        self.jobs = jobs

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        job = self.jobs.get(rank)
        if job is not None:
            with self.track_time():
                marker = _tokenize_one(job)
            self.stat_update("documents", value=marker["num_docs"])
        return
        yield


def _rank(job: dict[str, Any]) -> int:
    return int(Path(job["work"]).stem.split("-")[1])  # in-NNNNN.arrow


def tokenize_on_cluster(
    *,
    executor: Literal["ray", "slurm"],
    executor_options: RayConfig | SlurmConfig | None = None,
    workers: int = 1,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`tokenize_shards` (same keyword arguments) with phase 1 on ``executor``; returns
    the manifest, or ``{"state": "submitted", ...}`` when the work was submitted to Slurm (the
    packing job then writes the set; rerunning the command later returns its manifest)."""
    kwargs["inputs"] = [str(Path(p).resolve()) for p in kwargs["inputs"]]  # the packing job may run elsewhere
    kwargs["output"] = str(Path(kwargs["output"]).resolve())
    if Path(kwargs["tokenizer"]).exists():
        kwargs["tokenizer"] = str(Path(kwargs["tokenizer"]).resolve())
    output = Path(kwargs["output"])
    logs = output / LOGS

    def run_tasks(jobs: list[dict[str, Any]], num_files: int) -> bool:
        by_rank = {_rank(job): job for job in jobs}
        job_id = execute_steps(
            [TokenizeShardStep(by_rank)],
            tasks=num_files,
            workers=workers,
            logging_dir=logs / f"tokenize-{len(list(logs.glob('tokenize-*'))) if logs.is_dir() else 0:03d}",
            job_name="tokenize",
            executor=executor,
            executor_options=executor_options,
        )
        if executor != "slurm":
            missing = [job["input"] for job in jobs if not Path(job["marker"]).is_file()]
            if missing:
                raise IncompleteRunError(
                    f"{len(missing)} input shard(s) not tokenized (first: {missing[0]}); see {logs} and rerun to resume"
                )
            return True
        settings = {k: v for k, v in kwargs.items() if k not in ("on_skipped", "on_reused")}
        resume = functools.partial(
            tokenize_on_cluster, executor=executor, executor_options=executor_options, workers=workers, **settings
        )
        submit_resume(resume, logs=logs, options=executor_options, after=job_id, job_name="tokenize-pack")
        return False

    return tokenize_shards(**kwargs, run_tokenize_tasks=run_tasks)
