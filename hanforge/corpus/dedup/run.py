"""``hanforge dedup`` as a plain function: :func:`run_dedup` drives the stages in order.

signatures (task per input shard) → candidates (task per bucket partition + per exact
partition) → connected components (large-star/small-star rounds, task per graph partition)
→ elect (task per graph partition) → removal (task per input shard). Every stage runs on the
chosen executor (local, Ray, Slurm through :func:`hanforge.corpus.runner.execute_steps`) with
datatrove's completion markers, so a rerun of the same command skips finished tasks and
resumes a killed run. Outputs depend only on inputs and config: tasks are defined by shards and
partitions, never by the number of workers. On Slurm the stages are submitted once, each job
array depending on the one before (``afterok``), up to where the driver must read a stage's
output; a resume job then reruns the command on the cluster (:mod:`hanforge.corpus.slurm_chain`).

``index``: the output folder of an earlier ``hanforge dedup`` run with the same scheme. Its
state (signatures, exact hashes, bucket files) joins the graph as reference documents, which
are never written out and always win the keep rule, so the new input is deduplicated against
the old corpus without recomputing it.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_json
from hanforge.corpus.dedup.components import ElectStage, run_components
from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.dedup.layout import StateLayout, discover_shards
from hanforge.corpus.dedup.removal import RemovalStage
from hanforge.corpus.dedup.shingles import minhash_engine
from hanforge.corpus.dedup.stages import CandidateStage, SignatureStage
from hanforge.corpus.runner import execute_steps
from hanforge.corpus.slurm_chain import submit_resume
from hanforge.errors import ConfigError
from hanforge.fingerprint import config_fingerprint, file_fingerprint, write_manifest
from hanforge.output import SUBMITTED, IncompleteRunError, JobOutput
from hanforge.shards.text_reader import shard_row_counts
from hanforge.shards.text_writer import DEFAULT_MAX_SHARD_BYTES

#: Config keys an index must share with the run that uses it.
SCHEME_KEYS = ("shingle", "ngram", "bands", "rows", "seed", "band_partitions", "graph_partitions", "exact", "near")


#: What ``hanforge dedup`` writes in its output folder (the files it may delete on --overwrite).
DEDUP_OWNS = ("shards/*", "excluded/*", "state/**", "work/**", "logs/**", "stats.json", "manifest.json")


@dataclass
class DedupSummary:
    """What :func:`run_dedup` did; ``stats`` is what it wrote to stats.json."""

    output: Path
    stats: dict[str, Any] = field(default_factory=dict)
    #: "finished", or output.SUBMITTED when stages were handed to Slurm as dependent jobs; a resume
    #: job reruns the command on the cluster and finishes it (hanforge.corpus.slurm_chain)
    state: str = "finished"
    submitted_stage: str | None = None  # the last stage this call submitted to Slurm


class _StageSubmitted(Exception):
    def __init__(self, stage: str) -> None:
        self.stage = stage


def _reference(index: str | Path | None, config: DedupConfig) -> tuple[str | None, int]:
    if index is None:
        return None, 0
    manifest_path = Path(index) / "manifest.json"
    if not manifest_path.is_file() or not (Path(index) / "state").is_dir():
        raise ConfigError(f"--index {index}: not the output folder of a finished hanforge dedup run")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    old = manifest.get("config", {})
    if manifest.get("minhash_engine") != minhash_engine():
        raise ConfigError(
            f"--index {index}: built with {manifest.get('minhash_engine')}, this is {minhash_engine()}; "
            "signatures differ between MinHash engine versions"
        )
    for key in SCHEME_KEYS:
        if old.get(key) != getattr(config, key):
            raise ConfigError(
                f"--index {index}: {key} = {old.get(key)!r} there but {getattr(config, key)!r} here; "
                "an index is usable only with the same scheme"
            )
    return str(Path(index).resolve()), int(manifest["num_input_shards"])


def run_dedup(
    inputs: list[str | Path],
    *,
    output: str | Path,
    config: DedupConfig | None = None,
    workers: int = 1,
    executor: str = "local",
    executor_options: Any = None,
    index: str | Path | None = None,
    overwrite: bool = False,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    on_progress=None,
) -> DedupSummary:
    """Remove exact and near-duplicate documents from Parquet text shards.

    Writes ``<output>/shards`` (kept, with dup_cluster_id / dup_cluster_size),
    ``<output>/excluded`` (drop_reason exact_duplicate / near_duplicate, duplicate_of),
    ``<output>/stats.json``, ``<output>/manifest.json`` and ``<output>/state`` (the index for
    later ``--index`` runs). ``on_progress(stage, done, total)`` reports finished tasks per stage.
    """
    config = config or DedupConfig()
    if workers < 1:
        raise ConfigError(f"workers: must be >= 1, got {workers}")
    output = Path(output)
    shards = discover_shards(inputs)
    reference, num_ref = _reference(index, config)
    inputs_fp = {f"{i:05d}/{p.name}": file_fingerprint(p) for i, p in enumerate(shards)}
    fingerprint = {
        "config": config.to_dict(),
        "config_fingerprint": config_fingerprint(config),
        "inputs": inputs_fp,
        "max_shard_bytes": max_shard_bytes,
        "minhash_engine": minhash_engine(),
        "index": file_fingerprint(Path(reference) / "manifest.json") if reference else None,
    }
    job = JobOutput(
        output, what="dedup run", marker=fingerprint, owns=DEDUP_OWNS, data_dirs=("shards", "excluded", "state", "work")
    )
    job.claim(overwrite=overwrite)
    run = _DedupRun(
        output=output,
        shard_paths=[str(p.resolve()) for p in shards],
        config=config,
        reference=reference,
        num_ref=num_ref,
        max_shard_bytes=max_shard_bytes,
        fingerprint=fingerprint,
        execution={"workers": workers, "executor": executor, "executor_options": executor_options},
        on_progress=on_progress,
    )
    with job:
        try:
            summary = run.run_stages()
        except _StageSubmitted as submitted:
            # the rest of the command runs as a Slurm job once the submitted stages succeeded
            command = functools.partial(
                run_dedup,
                [str(Path(p).resolve()) for p in inputs],
                output=str(output.resolve()),
                config=config,
                workers=workers,
                executor=executor,
                executor_options=executor_options,
                index=reference,
                max_shard_bytes=max_shard_bytes,
            )
            submit_resume(
                command, logs=run.layout.logs, options=executor_options, after=run.chain["job"], job_name="dedup-resume"
            )
            return DedupSummary(output=output, state=SUBMITTED, submitted_stage=submitted.stage)
        job.finish()
    return summary


@dataclass
class _DedupRun:
    """One dedup run in a claimed output folder: its stages in order, then stats and manifest."""

    output: Path
    shard_paths: list[str]
    config: DedupConfig
    reference: str | None  # the --index run's folder (absolute), or None
    num_ref: int  # its number of input shards
    max_shard_bytes: int
    fingerprint: dict[str, Any]
    execution: dict[str, Any]  # workers, executor, executor_options of execute_steps
    on_progress: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    #: Slurm: the last job array this call submitted and its stage; each next stage depends on it
    chain: dict[str, str | None] = field(default_factory=lambda: {"job": None, "stage": None})

    def __post_init__(self) -> None:
        self.layout = StateLayout(self.output)
        self.out = str(self.output.resolve())

    def stage(self, name: str, step, tasks: int) -> None:
        """Run one stage's ``tasks`` tasks; raise unless all completed (Slurm: submitted)."""
        start = time.perf_counter()
        on_progress = self.on_progress
        report = (lambda done, total: on_progress(name, done, total)) if on_progress else None
        logs = self.layout.logs / name
        job_id = execute_steps(
            [step],
            tasks=tasks,
            logging_dir=logs,
            job_name=f"dedup-{name}",
            on_progress=report,
            after=self.chain["job"],
            **self.execution,
        )
        kind = name.split("-")[0]
        self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - start
        done = len(list((logs / "completions").iterdir())) if (logs / "completions").is_dir() else 0
        if done < tasks:
            if self.execution["executor"] == "slurm" and job_id:  # submitted, after the stage before it (afterok)
                self.chain.update(job=job_id, stage=name)
                return
            raise IncompleteRunError(
                f"dedup stage {name}: only {done} of {tasks} tasks completed; see "
                f"{logs} and rerun the same command to resume"
            )

    def barrier(self) -> None:
        """The driver is about to read stage outputs: stop if they are still queued on Slurm."""
        if self.chain["job"]:
            raise _StageSubmitted(self.chain["stage"] or "")

    def run_stages(self) -> DedupSummary:
        config, out, shards, reference = self.config, self.out, self.shard_paths, self.reference
        parts = config.graph_partitions
        self.stage("signatures", SignatureStage(shards, output=out, config=config), len(shards))
        candidate_tasks = (config.num_bucket_partitions if config.near else 0) + (parts if config.exact else 0)
        candidates = CandidateStage(
            output=out, config=config, num_shards=len(shards), reference=reference, num_ref_shards=self.num_ref
        )
        self.stage("candidates", candidates, candidate_tasks)
        final_round = run_components(self.stage, output=out, parts=parts, barrier=self.barrier)
        self.stage("elect", ElectStage(output=out, config=config, final_round=final_round, reference=reference), parts)
        removal = RemovalStage(shards, output=out, reference=reference, max_bytes=self.max_shard_bytes)
        self.stage("removal", removal, len(shards))
        self.barrier()
        return self.write_results(rounds=final_round)

    def write_results(self, *, rounds: int) -> DedupSummary:
        """stats.json and manifest.json of the finished stages."""
        output = self.output
        stats = collect_dedup_stats(self.layout, seconds=self.seconds, rounds=rounds)
        atomic_write_json(output / "stats.json", stats)
        shard_rows = shard_row_counts(output)
        write_manifest(
            output,
            kind="dedup",
            config=self.config,
            inputs=self.fingerprint["inputs"],
            shards=shard_rows,
            num_input_shards=len(self.shard_paths),
            index=self.fingerprint["index"],
            minhash_engine=minhash_engine(),
        )
        return DedupSummary(output=output, stats=stats)


def collect_dedup_stats(layout: StateLayout, *, seconds: dict[str, float], rounds: int) -> dict[str, Any]:
    """Sum the per-task stats into the stats.json layout (counts add up: input = kept + removed)."""
    removal = layout.read_task_stats("removal")
    docs: dict[str, int] = {}
    for s in removal:
        for key, value in s.items():
            docs[key] = docs.get(key, 0) + value
    candidates = layout.read_task_stats("candidates")
    elect = layout.read_task_stats("elect")
    return {
        "documents": {
            "input": docs.get("input", 0),
            "kept": docs.get("kept", 0),
            "exact_duplicate": docs.get("exact_duplicate", 0),
            "near_duplicate": docs.get("near_duplicate", 0),
            "dropped_before": docs.get("input", 0)
            - docs.get("kept", 0)
            - docs.get("exact_duplicate", 0)
            - docs.get("near_duplicate", 0),
        },
        "clusters": sum(s["stars"] for s in elect),
        "components": sum(s["components"] for s in elect),
        "documents_in_clusters": sum(s["members"] for s in elect),
        "largest_cluster": max((s["largest"] for s in elect), default=0),
        "candidate_pairs": sum(s["candidate_pairs"] for s in candidates if s["near"]),
        "near_edges": sum(s["edges"] for s in candidates if s["near"]),
        "exact_edges": sum(s["edges"] for s in candidates if not s["near"]),
        "component_rounds": rounds,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
