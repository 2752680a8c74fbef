"""Dependent stages on Slurm: each stage a job array that starts only when the one before it
succeeded (``sbatch --dependency=afterok:<job>``, datatrove's ``depends_job_id``), so a
multi-stage command (``hanforge dedup``, ``hanforge tokenize``) is submitted once and runs to
the end without anyone rerunning it.

A driver can only submit the stages whose shape it knows: dedup's connected-components loop
decides after each large-star round whether another is needed (it reads that round's edge
hashes), and every command writes its summary (stats.json, manifest.json) from the stages'
outputs. At such a point the driver submits a *resume* job (:func:`submit_resume`) that depends
on the last stage submitted: one Slurm task that runs the very same command again on the cluster.
That rerun skips every finished task (datatrove's completion markers), submits the next chain
and, when nothing is left to run, writes the summary: the command finishes on the cluster.

A stage that fails ends the chain: the jobs that depend on it never start (Slurm cancels them
with ``SchedulerParameters=kill_invalid_depend``, else they stay pending with reason
``DependencyNeverSatisfied`` and need ``scancel``). Rerunning the command resumes from the
finished tasks.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.executor import SlurmPipelineExecutor

from hanforge.atomic import atomic_path
from hanforge.corpus.pipeline import SlurmConfig
from hanforge.errors import OutputBusyError

#: How long the resumed command waits for the output folder's lock (the submitting process
#: may still hold it for a moment after its last sbatch).
LOCK_WAIT_S = 300.0


class HanforgeSlurmExecutor(SlurmPipelineExecutor):
    """datatrove's SlurmPipelineExecutor without its stats-merging job: hanforge reads the
    per-task stats itself, and that job, running beside the next stage, could write into an
    output folder after the resumed command had finished it."""

    def launch_merge_stats(self) -> None:
        return None


@contextlib.contextmanager
def outside_slurm_task() -> Iterator[None]:
    """Hide this task's ``SLURM_*`` variables (SLURM_CONF kept) while the resumed command runs:
    datatrove reads SLURM_ARRAY_TASK_ID as "I am a task of this array", and the jobs it
    submits must not inherit this job's settings through sbatch's --export=ALL."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SLURM_") and k != "SLURM_CONF"}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def run_command(command: Callable[[], Any]) -> None:
    """Run ``command`` (the resumed hanforge command) inside a Slurm job; waits for the output
    folder's lock (the submitting process may still hold it for a moment after its last sbatch)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    with outside_slurm_task():
        while True:
            try:
                command()
                return
            except OutputBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2.0)


def submit_resume(command: Callable[[], Any], *, logs: Path, options: SlurmConfig, after: str, job_name: str) -> str:
    """Submit a one-task job that runs ``command`` once job ``after`` succeeded; return its id.

    A plain ``sbatch`` (not a datatrove executor): the resumed command finishes the output folder
    (stats, manifest, the job record), and nothing may be written there after that; datatrove
    would still write the task's completion marker and stats. The job's files are its pickled
    command and its Slurm log, both in ``logs/resume-NNN/``, both there before the command ends.
    """
    import dill

    folder = resume_logging_dir(logs)
    folder.mkdir(parents=True)
    pickled = folder / "command.pik"
    with atomic_path(pickled) as tmp, open(tmp, "wb") as fh:
        dill.dump(command, fh)
    directives = {
        "job-name": options.job_name or job_name,
        "partition": options.partition,
        "time": options.time,
        "cpus-per-task": options.cpus_per_task,
        "mem-per-cpu": f"{options.mem_per_cpu_gb}G",
        "output": str(folder / "slurm-%j.out"),
        **({"qos": options.qos} if options.qos else {}),
        **dict(options.sbatch_args),
    }
    script = "#!/bin/bash\n" + "".join(f"#SBATCH --{k}={v}\n" for k, v in directives.items())
    if options.venv_path:
        script += f"source {shlex.quote(options.venv_path)}\n"
    script += f"exec python3 -m hanforge.corpus.slurm_chain {shlex.quote(str(pickled))}\n"
    (folder / "resume.slurm").write_text(script, encoding="utf-8")
    out = subprocess.run(
        ["sbatch", "--parsable", f"--dependency=afterok:{after}", str(folder / "resume.slurm")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().split(";")[0]


def resume_logging_dir(logs: Path) -> Path:
    """A fresh folder for the next resume job (``logs/resume-NNN``)."""
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"resume-{len([p for p in logs.iterdir() if p.name.startswith('resume-')]):03d}"


def main(argv: list[str] | None = None) -> int:
    """``python -m hanforge.corpus.slurm_chain COMMAND.pik``: the body of a resume job."""
    import dill

    args = sys.argv[1:] if argv is None else argv
    with open(args[0], "rb") as fh:
        command = dill.load(fh)
    run_command(command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
