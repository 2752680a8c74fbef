"""Running corpus pipelines on datatrove's executors (local, Ray, Slurm).

:func:`execute_steps` runs any list of datatrove steps as ``tasks`` tasks on the chosen executor,
skipping tasks already completed (datatrove's ``completions/`` markers), so reruns resume.
:func:`run_pipeline` is ``hanforge run``: it resolves inputs, checks that the output folder
belongs to the same run (config + input fingerprints), clears the partial shards of unfinished
tasks, runs reader → steps → writer, and writes ``stats.json`` and ``manifest.json``.

Output is a function of (inputs, config, tasks) only: shards are named by task rank, so 1 worker
or N give byte-identical shards.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq
from loguru import logger

from hanforge.atomic import atomic_write_json
from hanforge.corpus.ingest import DocumentReader, InputFile, discover_inputs
from hanforge.corpus.pipeline import PipelineConfig, RayConfig, SlurmConfig
from hanforge.corpus.sandbox import children_die_with_this_process
from hanforge.errors import ConfigError, InputError
from hanforge.fingerprint import config_fingerprint, file_fingerprint, write_manifest
from hanforge.output import SUBMITTED, IncompleteRunError, JobOutput
from hanforge.shards.text_reader import shard_row_counts
from hanforge.shards.text_writer import ShardWriterStep

MAX_DEFAULT_TASKS = 64
LOGS = "logs"


def execute_steps(
    steps: list,
    *,
    tasks: int,
    workers: int,
    logging_dir: str | Path,
    job_name: str,
    executor: Literal["local", "ray", "slurm"] = "local",
    executor_options: RayConfig | SlurmConfig | None = None,
    on_progress=None,
    after: str | None = None,
) -> str | None:
    """Run ``steps`` as ``tasks`` datatrove tasks; completed tasks are skipped on rerun.

    ``on_progress(done, total)`` is called from a polling thread as tasks complete (local and
    Ray). Slurm submits the job array and returns once it is submitted: the return value is its
    job id (None when every task had finished already), and ``after`` a job id it must wait for
    (``--dependency=afterok``; see :mod:`hanforge.corpus.slurm_chain`).
    """
    logging_dir = str(logging_dir)
    ex = _make_executor(
        steps,
        logging_dir,
        executor,
        tasks=tasks,
        workers=workers,
        job_name=job_name,
        options=executor_options,
        after=after,
    )
    poller = _CompletionPoller(Path(logging_dir), tasks, on_progress) if on_progress and executor != "slurm" else None
    if poller:
        poller.start()
    try:
        with children_die_with_this_process():  # no datatrove Manager outlives a killed run
            ex.run()
    finally:
        if poller:
            poller.stop()
    job_id = getattr(ex, "job_id", None)
    return str(job_id) if executor == "slurm" and job_id not in (None, -1) else None


def _make_executor(
    steps, logging_dir: str, executor: str, *, tasks: int, workers: int, job_name: str, options, after: str | None
):
    """The datatrove executor of ``executor`` (local, ray or slurm) over ``steps``."""
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        ex = LocalPipelineExecutor(
            steps,
            tasks=tasks,
            workers=min(workers, tasks),
            logging_dir=logging_dir,
            skip_completed=True,
            start_method="forkserver",
        )
    elif executor == "ray":
        ex = _ray_executor(
            steps,
            tasks=tasks,
            workers=workers,
            logging_dir=logging_dir,
            options=options if isinstance(options, RayConfig) else RayConfig(),
        )
    elif executor == "slurm":
        options = options if isinstance(options, SlurmConfig) else SlurmConfig()
        if not options.partition:
            raise ConfigError("slurm.partition: required to submit to Slurm (set it in the pipeline's [slurm] table)")
        from hanforge.corpus.slurm_chain import HanforgeSlurmExecutor

        same_names = ("time", "partition", "cpus_per_task", "mem_per_cpu_gb", "qos", "venv_path")
        ex = HanforgeSlurmExecutor(
            steps,
            tasks=tasks,
            workers=workers,
            job_name=options.job_name or job_name,
            sbatch_args=dict(options.sbatch_args),
            logging_dir=logging_dir,
            skip_completed=True,
            depends_job_id=after,
            **{name: getattr(options, name) for name in (*same_names, "max_array_launch_parallel")},
        )
    else:
        raise ConfigError(f"executor: unknown executor {executor!r} (local, ray, slurm)")
    return ex


def _ray_executor(steps, *, tasks: int, workers: int, logging_dir: str, options: RayConfig):
    try:
        import ray
        from datatrove.executor import RayPipelineExecutor
    except ImportError as exc:
        raise ConfigError("executor = 'ray' needs Ray: pip install 'hanforge[ray]'") from exc
    if not ray.is_initialized():
        if options.address:
            ray.init(address=options.address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(workers, options.cpus_per_task), include_dashboard=False, log_to_driver=False)
    return RayPipelineExecutor(
        steps,
        tasks=tasks,
        workers=workers,
        logging_dir=logging_dir,
        skip_completed=True,
        cpus_per_task=options.cpus_per_task,
        mem_per_cpu_gb=options.mem_per_cpu_gb,
    )


class _CompletionPoller:
    """Calls ``callback(done, total)`` while datatrove tasks complete (reads completions/)."""

    def __init__(self, logging_dir: Path, total: int, callback) -> None:
        self.folder = logging_dir / "completions"
        self.total = total
        self.callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def done(self) -> int:
        return len(list(self.folder.iterdir())) if self.folder.is_dir() else 0

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.callback(self.done(), self.total)

    def start(self) -> None:
        self.callback(self.done(), self.total)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.callback(self.done(), self.total)


@dataclass
class RunSummary:
    """What ``hanforge run`` did: paths, counts and the stats dict written to stats.json."""

    output: Path
    tasks: int
    stats: dict[str, Any] = field(default_factory=dict)
    state: str = "finished"  # or output.SUBMITTED: tasks handed to Slurm, rerun to finish
    num_tasks_skipped: int = 0  # tasks finished by an earlier (interrupted) run of the same job


def output_fingerprint(cfg: PipelineConfig, files: list[InputFile], tasks: int) -> dict[str, Any]:
    """What must match for a rerun to resume into an existing output folder."""
    relevant = cfg.to_dict()
    for key in ("workers", "executor", "ray", "slurm", "output", "description", "inputs", "name"):
        relevant.pop(key, None)
    relevant["tasks"] = tasks
    inputs = {
        f"{f.source}/{f.relpath}": file_fingerprint(f.path)
        for f in files
        if f.kind != "special" and Path(f.path).is_file()
    }
    return {"config": relevant, "config_fingerprint": config_fingerprint(relevant), "inputs": inputs}


def _completed_ranks(logs: Path) -> set[int]:
    folder = logs / "completions"
    return {int(p.name) for p in folder.iterdir()} if folder.is_dir() else set()


#: What ``hanforge run`` writes in its output folder (the files it may delete on --overwrite).
RUN_OWNS = ("shards/*", "excluded/*", f"{LOGS}/**", "stats.json", "manifest.json")


def _prepare_output(job: JobOutput, *, overwrite: bool, tasks: int) -> set[int]:
    """Claim ``job``'s folder (fresh, or a resumable earlier run of the very same job), remove
    the partial shards of unfinished tasks; return the ranks already completed."""
    job.claim(overwrite=overwrite)
    output = job.folder
    done = _completed_ranks(output / LOGS)
    for sub in ("shards", "excluded"):
        for shard in (output / sub).glob("*.parquet") if (output / sub).is_dir() else []:
            rank = int(shard.name.split("-")[0])
            if rank not in done or rank >= tasks:  # partial output of an unfinished task
                shard.unlink()
    return done


def run_pipeline(cfg: PipelineConfig, *, overwrite: bool = False, on_progress=None) -> RunSummary:
    """Run one corpus pipeline end to end; see the module docstring."""
    if not cfg.inputs:
        raise InputError(
            f"pipeline {cfg.name or ''!r} has no inputs: set inputs in pipelines.toml or pass them "
            "(hanforge run INPUT...)"
        )
    files = discover_inputs(cfg.inputs, source=cfg.source, exclude=[cfg.output])
    if not files:
        raise InputError(f"no input files found under {', '.join(cfg.inputs)}")
    tasks = cfg.tasks or min(len(files), MAX_DEFAULT_TASKS)
    output = Path(cfg.output)
    fingerprint = output_fingerprint(cfg, files, tasks)
    job = JobOutput(output, what="run", marker=fingerprint, owns=RUN_OWNS, data_dirs=("shards", "excluded"))
    with job:
        done_before = _prepare_output(job, overwrite=overwrite, tasks=tasks)
        steps = [DocumentReader(files, config=cfg.ingest)]
        steps += [step_cfg.build() for step_cfg in cfg.step_configs]
        steps.append(ShardWriterStep(output, max_bytes=cfg.shard_max_bytes))

        started = time.perf_counter()
        execute_steps(
            steps,
            tasks=tasks,
            workers=cfg.workers,
            logging_dir=output / LOGS,
            job_name=f"hanforge-{cfg.name or 'run'}",
            executor=cfg.executor,
            executor_options=cfg.ray if cfg.executor == "ray" else cfg.slurm,
            on_progress=on_progress,
        )
        seconds = time.perf_counter() - started
        done = _completed_ranks(output / LOGS)
        if cfg.executor == "slurm" and len(done) < tasks:
            return RunSummary(output=output, tasks=tasks, state=SUBMITTED)
        if len(done) < tasks:
            raise IncompleteRunError(
                f"only {len(done)} of {tasks} tasks completed; see {output / LOGS / 'logs'} "
                "and rerun the same command to resume"
            )
        skipped = done_before & set(range(tasks))
        stats = _write_results(
            output, files=files, fingerprint=fingerprint, tasks=tasks, skipped=skipped, seconds=seconds
        )
        job.finish()
    return RunSummary(output=output, tasks=tasks, stats=stats, num_tasks_skipped=len(skipped))


def _write_results(
    output: Path, *, files: list[InputFile], fingerprint: dict[str, Any], tasks: int, skipped: set[int], seconds: float
) -> dict[str, Any]:
    """stats.json and manifest.json of a run whose tasks all completed; returns the stats
    (``skipped``: the tasks done by an earlier, resumed run)."""
    shard_rows = shard_row_counts(output)
    stats = collect_stats(
        output,
        seconds=seconds,
        num_docs_this_run=sum(n for name, n in shard_rows.items() if int(Path(name).name.split("-")[0]) not in skipped),
        input_bytes=sum(Path(f.path).stat().st_size for f in files if Path(f.path).is_file()),
        num_kept=sum(n for name, n in shard_rows.items() if name.startswith("shards/")),
    )
    atomic_write_json(output / "stats.json", stats)
    write_manifest(
        output,
        kind="text-shards",
        config=fingerprint["config"],
        inputs=fingerprint["inputs"],
        tasks=tasks,
        shards=shard_rows,
    )
    return stats


def _merge_task_stats(folder: Path) -> tuple[dict[str, Counter], Counter]:
    """Per step (in pipeline order): datatrove's counters summed over the tasks' stats files,
    and the step's seconds."""
    per_step: dict[str, Counter] = {}
    step_seconds: Counter = Counter()
    for path in sorted(folder.glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            name = step["name"].removeprefix("hanforge: ")
            counts = per_step.setdefault(name, Counter())
            for key, value in step.get("stats", {}).items():
                counts[key] += value["total"] if isinstance(value, dict) else value
            step_seconds[name] += (
                step.get("time_stats", {}).get("total", 0.0) if isinstance(step.get("time_stats"), dict) else 0.0
            )
    return per_step, step_seconds


def _step_row(name: str, counts: Counter, *, seconds: float) -> dict[str, Any]:
    """One step's entry of ``stats.json["steps"]``."""
    reasons = {k.split("/", 1)[1]: int(v) for k, v in counts.items() if k.startswith("dropped/")}
    return {
        "step": name,
        "docs_in": int(counts.get("docs_in", counts.get("documents", 0))),
        "kept": int(counts.get("kept", 0)),
        "dropped": int(counts.get("dropped", 0)),
        "drop_reasons": dict(sorted(reasons.items())),
        "seconds": round(seconds, 3),
        "counters": {k: int(v) for k, v in sorted(counts.items()) if "/" not in k},
    }


def collect_stats(
    output: Path, *, seconds: float, input_bytes: int, num_kept: int, num_docs_this_run: int | None = None
) -> dict[str, Any]:
    """Merge datatrove's per-task stats into hanforge's ``stats.json`` layout (``num_kept``: rows
    in the kept shards, read from their footers by the caller; ``num_docs_this_run``: documents
    of the tasks this run did, for docs/s; a resumed run skips the tasks done before)."""
    per_step, step_seconds = _merge_task_stats(output / LOGS / "stats")
    steps_out = [_step_row(name, counts, seconds=step_seconds[name]) for name, counts in per_step.items()]
    pii: Counter = Counter()
    for counts in per_step.values():
        pii.update({k.split("/", 1)[1]: int(v) for k, v in counts.items() if k.startswith("pii/")})
    kept = num_kept
    excluded_reasons: Counter = Counter()
    for p in (output / "excluded").glob("*.parquet"):
        column = pq.read_table(p, columns=["drop_reason"]).column("drop_reason").to_pylist()
        excluded_reasons.update(column)
    excluded = sum(excluded_reasons.values())
    kept_text_bytes = per_step.get("writer", Counter()).get("kept_chars", 0)
    # Counted by the reader as records are read, independently of the shards: a document lost
    # (or doubled) between reader and writer shows as ``unaccounted`` != 0.
    num_input = int(per_step.get("ingest", Counter()).get("documents", 0))
    documents = {"input": num_input, "kept": kept, "excluded": excluded}
    if kept + excluded != num_input:
        documents["unaccounted"] = num_input - kept - excluded
        logger.warning(
            f"{output}: the reader counted {num_input} input records but the shards hold "
            f"{kept} kept + {excluded} excluded"
        )
    return {
        "documents": documents,
        "drop_reasons": dict(sorted(excluded_reasons.items())),
        "steps": steps_out,
        "pii": dict(sorted(pii.items())),
        "bytes": {"input": input_bytes, "kept_text_chars": int(kept_text_bytes)},
        "seconds": round(seconds, 3),
        "docs_per_second": (
            round((num_input if num_docs_this_run is None else num_docs_this_run) / seconds, 1) if seconds > 0 else None
        ),
    }
