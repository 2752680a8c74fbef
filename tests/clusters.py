"""A real one-machine cluster for the executor tests: Slurm (munged + slurmctld + slurmd) on
loopback, started from Debian's own binaries; nothing is faked. When the cluster cannot start on
this machine (no Slurm installed, not root, a daemon that will not come up), the fixture skips
the test with the reason, so a developer laptop without Slurm still runs the rest of the suite.
``.ci/run`` installs ``slurm-wlm`` and ``munge``, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, *, timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll ``predicate`` until true; raise with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


@dataclass
class SlurmCluster:
    """A running one-node Slurm cluster; ``env`` is what a client process needs (SLURM_CONF)."""

    root: Path
    partition: str
    env: dict[str, str]

    def run(self, *args: str) -> str:
        return subprocess.run(list(args), env=self.env, check=True, capture_output=True, text=True).stdout

    def jobs(self) -> list[str]:
        """Ids of the jobs still queued or running (array tasks included)."""
        out = self.run("squeue", "--noheader", "--format=%i")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def wait_idle(self, timeout: float = 600.0) -> None:
        _wait_for(lambda: not self.jobs(), timeout=timeout, what="all Slurm jobs finishing", poll=0.5)


def slurm_skip_reason() -> str | None:
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing:
        return f"Slurm is not installed here (missing {', '.join(missing)}; apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the one-node Slurm test cluster runs its daemons as root"
    if not Path("/etc/munge/munge.key").is_file():
        return "no /etc/munge/munge.key (apt-get install munge creates it)"
    return None


def _munged_running() -> bool:
    return subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0


def start_slurm(root: Path) -> Iterator[SlurmCluster]:
    """Start munged (if not running), slurmctld and slurmd with a loopback config under ``root``."""
    reason = slurm_skip_reason()
    if reason:
        raise RuntimeError(reason)
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    cpus = os.cpu_count() or 1
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=hanforge-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "AuthType=auth/munge",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SchedulerType=sched/backfill",
                "SchedulerParameters=kill_invalid_depend",  # a job whose dependency failed ends, not waits
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "ReturnToService=2",
                "MpiDefault=none",
                "JobAcctGatherType=jobacct_gather/none",
                "SlurmUser=root",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN",
                "PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started_munged = False
    if not _munged_running():
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        subprocess.run(["munged", "--force"], check=True, capture_output=True)
        started_munged = True
    subprocess.run(["slurmctld", "-f", str(conf)], env=env, check=True, capture_output=True)
    subprocess.run(["slurmd", "-f", str(conf)], env=env, check=True, capture_output=True)
    cluster = SlurmCluster(root=root, partition="cpu", env=env)
    try:
        _wait_for(
            lambda: "idle" in cluster.run("sinfo", "--noheader", "--format=%T"),
            timeout=START_TIMEOUT_S,
            what="the Slurm node becoming idle",
        )
        yield cluster
    finally:
        for pidfile in ("slurmd.pid", "slurmctld.pid"):
            path = root / pidfile
            if path.is_file():
                try:
                    os.kill(int(path.read_text().strip()), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        if started_munged:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)
