"""hanforge on a real one-node Slurm cluster (Debian's slurm-wlm: munged, slurmctld, slurmd on
loopback), through datatrove's SlurmPipelineExecutor: ``hanforge run`` and ``hanforge dedup``
give the local executor's output, and a job cancelled with ``scancel`` mid-way resumes exactly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from clusters import SlurmCluster, _wait_for, dedup_input, slurm_skip_reason, start_slurm

from hanforge.corpus.pipeline import SlurmConfig, load_pipelines
from hanforge.corpus.runner import run_pipeline
from hanforge.output import SUBMITTED

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines.toml"
JOB_TIMEOUT_S = 600.0


def _small_dedup():
    from hanforge.corpus.dedup.config import DedupConfig

    # fewer tasks per stage (4 bucket + 1 exact candidate tasks, one graph partition): every
    # stage kind still runs, each Slurm task costs a Python start
    return DedupConfig(bands=4, rows=8, graph_partitions=1)


SMALL_DEDUP = _small_dedup()

pytestmark = [
    pytest.mark.skipif(slurm_skip_reason() is not None, reason=slurm_skip_reason() or ""),
    pytest.mark.cluster,
]


@pytest.fixture(scope="module")
def slurm(cluster_lock, tmp_path_factory) -> SlurmCluster:
    yield from start_slurm(tmp_path_factory.mktemp("slurm"))


@pytest.fixture
def slurm_env(slurm, monkeypatch):
    """The test process talks to the test cluster; jobs inherit PATH (launch_pickled_pipeline)
    and PYTHONPATH (this checkout) through sbatch's default --export=ALL."""
    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    return slurm


def sample_cfg(tmp_path: Path, name: str, **changes):
    cfg = load_pipelines(PIPELINES).pipeline(None)
    return cfg.merge(dict(output=str(tmp_path / name), tasks=4, **changes))


def shard_bytes(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): p.read_bytes()
        for sub in ("shards", "excluded")
        for p in sorted((output / sub).glob("*.parquet"))
    }


def completions(output: Path) -> int:
    folder = output / "logs" / "completions"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    cfg = sample_cfg(tmp_path_factory.mktemp("local"), "out", workers=2)
    run_pipeline(cfg)
    return Path(cfg.output)


def on_slurm(cfg, **slurm_changes):
    return cfg.merge(
        dict(
            executor="slurm",
            slurm=SlurmConfig(partition="cpu", time="00:30:00", cpus_per_task=1, mem_per_cpu_gb=1, **slurm_changes),
        )
    )


def test_run_on_slurm_gives_the_local_shards(slurm_env, local_run, tmp_path):
    cfg = on_slurm(sample_cfg(tmp_path, "slurm", workers=2))
    first = run_pipeline(cfg)
    assert first.state == SUBMITTED  # sbatch returned at once; the array runs under slurmd
    slurm_env.wait_idle(JOB_TIMEOUT_S)
    assert completions(Path(cfg.output)) == 4
    second = run_pipeline(cfg)  # every task done: the rerun only collects stats and the manifest
    assert second.state != SUBMITTED
    assert second.stats["documents"]["kept"] > 0
    assert shard_bytes(Path(cfg.output)) == shard_bytes(local_run)


def test_scancel_mid_run_then_resume_gives_the_local_shards(slurm_env, local_run, tmp_path):
    # one array task at a time (workers=1 -> --array=0-3%1): once the first task has finished,
    # cancel the job, which kills the second task mid-way and the rest before they start
    cfg = on_slurm(sample_cfg(tmp_path, "cancelled", workers=1))
    assert run_pipeline(cfg).state == SUBMITTED
    jobs = sorted({j.split("_")[0] for j in slurm_env.jobs()}, key=int)  # the array, datatrove's stats job
    _wait_for(lambda: completions(Path(cfg.output)) >= 1, timeout=JOB_TIMEOUT_S, what="the first array task finishing")
    slurm_env.run("scancel", *jobs)
    slurm_env.wait_idle(JOB_TIMEOUT_S)
    done_before = completions(Path(cfg.output))
    assert done_before < 4
    assert run_pipeline(cfg).state == SUBMITTED  # resubmits only the unfinished tasks
    slurm_env.wait_idle(JOB_TIMEOUT_S)
    assert completions(Path(cfg.output)) == 4
    assert run_pipeline(cfg).state != SUBMITTED
    assert shard_bytes(Path(cfg.output)) == shard_bytes(local_run)


def test_dedup_on_slurm_is_one_submission_of_dependent_jobs(slurm_env, sample_html_files, tmp_path):
    from hanforge.corpus.dedup.run import run_dedup

    shards = dedup_input(tmp_path / "input", sample_html_files)

    local = run_dedup([shards], output=tmp_path / "dedup-local", config=SMALL_DEDUP)
    assert local.stats["documents"]["exact_duplicate"] + local.stats["documents"]["near_duplicate"] > 0
    options = SlurmConfig(partition="cpu", time="00:30:00", mem_per_cpu_gb=1)
    out = tmp_path / "dedup-slurm"
    settings = {"config": SMALL_DEDUP, "workers": 2, "executor": "slurm", "executor_options": options}
    # the partition is down while the command submits, so nothing starts before squeue is read
    slurm_env.run("scontrol", "update", "PartitionName=cpu", "State=DOWN")
    try:
        summary = run_dedup([shards], output=out, **settings)
        assert summary.state == SUBMITTED
        queued = [line.split(None, 1) for line in slurm_env.run("squeue", "--noheader", "--format=%j %E").splitlines()]
        waiting = {name for name, *dependency in queued if dependency and "afterok" in dependency[0]}
    finally:
        slurm_env.run("scontrol", "update", "PartitionName=cpu", "State=UP")
    # every stage up to the second large-star round, and the job that resumes the command after it
    assert {"dedup-candidates", "dedup-components-ls000", "dedup-components-ss000", "dedup-resume"} <= waiting
    slurm_env.wait_idle(JOB_TIMEOUT_S)  # no rerun here: resume jobs submit the rest on the cluster
    assert (out / "manifest.json").is_file()
    assert json.loads((out / "stats.json").read_text())["documents"] == local.stats["documents"]
    assert shard_bytes(out) == shard_bytes(tmp_path / "dedup-local")
    again = run_dedup([shards], output=out, **settings)
    assert again.state != SUBMITTED and not slurm_env.jobs()  # finished: nothing submitted


def test_tokenize_on_slurm_is_a_job_array_then_a_dependent_packing_job(slurm_env, local_run, tmp_path):
    from token_helpers import train_tiny_tokenizer

    from hanforge.corpus.tokenize_tasks import tokenize_on_cluster
    from hanforge.tokenizer.tokenize_job import tokenize_shards

    tok = train_tiny_tokenizer(local_run / "shards", tmp_path / "tok", vocab_size=1200)
    settings = {
        "inputs": [str(local_run / "shards")],
        "tokenizer": str(tok),
        "seq_len": 96,
        "rows_per_shard": 50,
        "shuffle_seed": 3,
        "progress": False,
    }
    tokenize_shards(output=tmp_path / "local", **settings)
    out = tmp_path / "slurm"
    options = SlurmConfig(partition="cpu", time="00:30:00", mem_per_cpu_gb=1)
    slurm_env.run("scontrol", "update", "PartitionName=cpu", "State=DOWN")
    try:
        first = tokenize_on_cluster(executor="slurm", executor_options=options, workers=2, output=out, **settings)
        assert first["state"] == SUBMITTED
        queued = [line.split(None, 1) for line in slurm_env.run("squeue", "--noheader", "--format=%j %E").splitlines()]
    finally:
        slurm_env.run("scontrol", "update", "PartitionName=cpu", "State=UP")
    assert {name for name, *dependency in queued if dependency and "afterok" in dependency[0]} >= {"tokenize-pack"}
    assert "tokenize" in {name for name, *_ in queued}
    slurm_env.wait_idle(JOB_TIMEOUT_S)
    assert not (out / "_work").exists()  # packed and cleaned up by the dependent job
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")} == {
        p.name: p.read_bytes()
        for p in sorted((tmp_path / "local").iterdir())
        if p.is_file() and not p.name.startswith(".")
    }
    again = tokenize_on_cluster(executor="slurm", executor_options=options, output=out, **settings)
    assert again["num_docs"] == json.loads((out / "manifest.json").read_text())["num_docs"]
