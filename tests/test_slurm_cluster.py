"""hanforge on a real one-node Slurm cluster (Debian's slurm-wlm: munged, slurmctld, slurmd on
loopback), through datatrove's SlurmPipelineExecutor: ``hanforge run`` and ``hanforge dedup``
give the local executor's output, and a job cancelled with ``scancel`` mid-way resumes exactly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from clusters import SlurmCluster, _wait_for, slurm_skip_reason, start_slurm

from hanforge.corpus.pipeline import SlurmConfig, load_pipelines
from hanforge.corpus.runner import run_pipeline
from hanforge.output import SUBMITTED

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines.toml"
JOB_TIMEOUT_S = 600.0

pytestmark = [
    pytest.mark.skipif(slurm_skip_reason() is not None, reason=slurm_skip_reason() or ""),
    pytest.mark.cluster,
]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> SlurmCluster:
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


def test_dedup_on_slurm_gives_the_local_output(slurm_env, local_run, tmp_path):
    from hanforge.corpus.dedup.run import run_dedup

    local = run_dedup([local_run / "shards"], output=tmp_path / "dedup-local")
    options = SlurmConfig(partition="cpu", time="00:30:00", mem_per_cpu_gb=1)
    summary = run_dedup(
        [local_run / "shards"], output=tmp_path / "dedup-slurm", executor="slurm", executor_options=options
    )
    rounds = 0
    while summary.state == SUBMITTED:  # each rerun submits what the finished stages allow
        rounds += 1
        assert rounds < 40, summary.submitted_stage
        slurm_env.wait_idle(JOB_TIMEOUT_S)
        summary = run_dedup(
            [local_run / "shards"], output=tmp_path / "dedup-slurm", executor="slurm", executor_options=options
        )
    assert summary.stats["documents"] == local.stats["documents"]
    assert shard_bytes(tmp_path / "dedup-slurm") == shard_bytes(tmp_path / "dedup-local")
