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
import tempfile
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


# ---- Ray: a head node and worker nodes, each its own `ray start --block` process ---------------
#
# Loopback: `ray start --node-ip-address=127.0.0.1` does not stay on loopback. ray start passes the
# address through ray._private.services.resolve_ip_for_localhost, which replaces "127.0.0.1",
# "localhost" and "::1" by the address of the interface on the default route (is_localhost), so
# the nodes bound eth0. RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 skips that replacement but also makes
# `ray start --address` refuse to add a node ("Multi-node Ray clusters are not supported").
# Every other 127.x.y.z address is loopback too on Linux (the kernel routes 127.0.0.0/8 to lo)
# and is_localhost does not match it, so each node gets its own: head 127.0.0.2, workers
# 127.0.0.3, ...; every socket stays on lo. Token authentication (Ray >= 2.52) as Ray documents it
# for clusters started by hand: RAY_AUTH_MODE=token and one shared RAY_AUTH_TOKEN in the
# environment of every node and of the driver.
#
# Startup under load: the raylet starts its dashboard agent and runtime-env agent, then waits a
# fixed ~15 s for them to write their port files into the session folder, and aborts otherwise
# (node_manager.cc WaitForDashboardAgentPorts; the wait ignores agent_register_timeout_ms in Ray
# 2.60). On a busy 2-core machine the agent's Python start misses that (measured: the port file
# written 0.5-5 s after the raylet had aborted, three attempts out of three at load 20). The
# fixture therefore fixes every port on the command line and the node id
# (RAY_OVERRIDE_NODE_ID_FOR_TESTING), and writes those port files itself as soon as the session
# folder exists: the same numbers the agents then bind and write, so the raylet need not race
# them. A node that still does not come up is stopped and started again (RAY_START_ATTEMPTS).

RAY_START_ATTEMPTS = 3
RAY_NODE_TIMEOUT_S = 240.0
RAY_READY_LINE = "Ray runtime started"


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ray_skip_reason() -> str | None:
    import importlib.util
    import sys

    if importlib.util.find_spec("ray") is None:  # not imported here: the driver runs in its own process
        return "Ray is not installed (pip install 'hanforge[ray]')"
    if not (Path(sys.executable).parent / "ray").is_file():
        return "the ray command is not next to this Python"
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.3", 0))
    except OSError as exc:
        return f"cannot bind 127.0.0.3 (loopback addresses other than 127.0.0.1 are needed): {exc}"
    return None


@dataclass
class RayNode:
    ip: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the node's whole process group (ray start, raylet, agents); its workers die
        with their raylet."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # ray start --block stops its node
                self.process.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()


@dataclass
class RayCluster:
    """A running multi-node Ray cluster on loopback; ``env`` is what a driver needs."""

    address: str
    env: dict[str, str]
    head: RayNode
    workers: list[RayNode]


def _write_agent_ports(temp: Path, node_id: str, ports: dict[str, int]) -> None:
    """Write ``<session>/<name>_<node_id>`` (the port, as the agents write it) where missing."""
    for session in temp.glob("session_2*"):
        for name, port in ports.items():
            path = session / f"{name}_{node_id}"
            if not path.exists():
                tmp = path.with_name(path.name + ".hanforge-tmp")
                tmp.write_text(str(port))
                tmp.replace(path)


def _start_ray_node(
    root: Path, *, ip: str, env: dict[str, str], cpus: int, head_address: str | None, head_port: int | None
) -> RayNode:
    import secrets
    import sys

    ray_cli = str(Path(sys.executable).parent / "ray")
    last_log = None
    for attempt in range(RAY_START_ATTEMPTS):
        temp = root / f"{ip}-{attempt}"  # one Ray temp dir (sessions, sockets, logs) per node
        temp.mkdir(parents=True)
        log = temp / "ray-start.log"
        ports = _free_ports(7)
        cmd = [
            ray_cli,
            "start",
            "--block",
            f"--node-ip-address={ip}",
            f"--num-cpus={cpus}",
            f'--resources={{"node:{ip}-test": 1}}',
            f"--temp-dir={temp}",
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--metrics-export-port={ports[2]}",
            f"--dashboard-agent-grpc-port={ports[3]}",
            f"--dashboard-agent-listen-port={ports[4]}",
            f"--runtime-env-agent-port={ports[5]}",
            "--disable-usage-stats",
            "--object-store-memory=100000000",
        ]
        if head_address is None:
            cmd += [
                "--head",
                f"--port={head_port}",
                f"--ray-client-server-port={ports[6]}",
                "--include-dashboard=false",
            ]
        else:
            cmd += [f"--address={head_address}"]
        node_id = secrets.token_hex(28)
        agent_ports = {
            "metrics_export_port": ports[2],
            "metrics_agent_port": ports[3],
            "dashboard_agent_listen_port": ports[4],
            "runtime_env_agent_port": ports[5],
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                cmd,
                env={**env, "RAY_OVERRIDE_NODE_ID_FOR_TESTING": node_id},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node = RayNode(ip=ip, process=process, log=log)
        deadline = time.monotonic() + RAY_NODE_TIMEOUT_S
        while time.monotonic() < deadline and node.alive():
            _write_agent_ports(temp, node_id, agent_ports)
            if RAY_READY_LINE in log.read_text(errors="replace"):
                return node
            time.sleep(0.2)
        node.stop()
        last_log = log
    tail = last_log.read_text(errors="replace")[-2000:] if last_log else ""
    raise RuntimeError(f"Ray node {ip} did not start in {RAY_START_ATTEMPTS} attempts; last log:\n{tail}")


def start_ray(
    root: Path, *, num_workers: int = 1, cpus_per_node: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[RayCluster]:
    """Start a head node (127.0.0.2) and ``num_workers`` worker nodes (127.0.0.3, ...), each a
    separate ``ray start --block`` process group with its own CPUs; stop them all at the end."""
    import secrets
    import sys

    reason = ray_skip_reason()
    if reason:
        raise RuntimeError(reason)
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_agent_register_timeout_ms": "600000",  # the agent registering with a slow raylet
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **(extra_env or {}),
    }
    env.pop("RAY_ADDRESS", None)
    head_port = _free_ports(1)[0]
    nodes: list[RayNode] = []
    # Ray's Unix sockets live under the temp dir and their paths may not exceed 107 bytes: a
    # short folder of our own in /tmp, not pytest's long tmp_path (``root`` keeps a pointer).
    short = Path(tempfile.mkdtemp(prefix="hfray-", dir="/tmp"))
    (root / "ray-temp-dir").write_text(str(short))
    root = short
    try:
        head = _start_ray_node(
            root, ip="127.0.0.2", env=env, cpus=cpus_per_node, head_address=None, head_port=head_port
        )
        nodes.append(head)
        address = f"127.0.0.2:{head_port}"
        for i in range(num_workers):
            nodes.append(
                _start_ray_node(
                    root, ip=f"127.0.0.{3 + i}", env=env, cpus=cpus_per_node, head_address=address, head_port=None
                )
            )
        yield RayCluster(address=address, env=env, head=head, workers=nodes[1:])
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(short, ignore_errors=True)


def dedup_input(folder: Path, html_files: list[Path]) -> Path:
    """Text shards (4) of the sample pages plus exact copies of 6 pages and near copies (one
    line appended) of 6 more, for the cluster dedup tests; returns the shards folder."""
    from token_helpers import sample_texts, write_text_shards

    pages = [doc for doc in sample_texts(html_files) if len(doc[1]) > 2000]
    docs = (
        pages + pages[:6] + [(source, text + "\n이 줄은 복사본에 덧붙인 문장입니다.") for source, text in pages[6:12]]
    )
    return write_text_shards(folder, docs, num_shards=4) / "shards"
