"""Pipeline definitions: ``[pipelines.<name>]`` tables of ``pipelines.toml`` as typed config.

``load_pipelines(path)`` parses and validates the whole file (every pipeline, every step,
every registered top-level section) before any work starts, so a bad key fails fast with a
message naming it, e.g. ``pipelines.korean-web.steps[3].min_chars: expected an integer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from hanforge.config import ConfigBase, StepConfig, parse_step, read_toml, require, section_types
from hanforge.corpus.ingest import IngestConfig
from hanforge.errors import ConfigError
from hanforge.shards.text_writer import DEFAULT_MAX_SHARD_BYTES

#: Where ``hanforge run`` looks when no config file is named (in the working directory).
DEFAULT_CONFIG_NAMES = ("pipelines.toml",)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: The default pipelines shipped in the package (a copy of the repository's pipelines.toml; a
#: test keeps them equal), used when the working directory has no pipelines.toml.
PACKAGED_CONFIG = PACKAGE_DIR / "assets" / "pipelines.toml"


@dataclass(frozen=True)
class SlurmConfig(ConfigBase):
    """Options for datatrove's SlurmPipelineExecutor.

    partition: Slurm partition (required to submit). time: wall time per task ("HH:MM:SS").
    cpus_per_task: CPUs per task (default 1). mem_per_cpu_gb: memory per CPU in GB (default 2).
    sbatch_args: extra ``#SBATCH`` options as a table. qos: QOS name. venv_path: activate this
    venv in the job. job_name: job name (default: the pipeline name). max_array_launch_parallel:
    datatrove's array throttle flag.
    """

    partition: str = ""
    time: str = "24:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2.0
    sbatch_args: dict[str, Any] = field(default_factory=dict)
    qos: str = "normal"
    venv_path: str | None = None
    job_name: str | None = None
    max_array_launch_parallel: bool = False

    def validate(self) -> None:
        require(self.cpus_per_task >= 1, "cpus_per_task", f"must be >= 1, got {self.cpus_per_task}")
        require(self.mem_per_cpu_gb > 0, "mem_per_cpu_gb", f"must be > 0, got {self.mem_per_cpu_gb}")


@dataclass(frozen=True)
class RayConfig(ConfigBase):
    """Options for datatrove's RayPipelineExecutor.

    address: Ray cluster address ("auto" joins a running cluster; "" starts a local instance).
    cpus_per_task: CPUs reserved per task (default 1). mem_per_cpu_gb: memory per CPU (default 2).
    """

    address: str = ""
    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2.0

    def validate(self) -> None:
        require(self.cpus_per_task >= 1, "cpus_per_task", f"must be >= 1, got {self.cpus_per_task}")


@dataclass(frozen=True)
class PipelineConfig(ConfigBase):
    """One corpus pipeline: inputs → reader → steps → kept/excluded text shards.

    description: free text shown by ``hanforge run --list``.
    inputs: input paths (files or folders; relative paths resolve against the config file's
        folder; ``sample:`` prefix resolves into the embedded sample). Inputs on the command line
        replace them.
    output: output folder (relative to the config file's folder). ``--output`` replaces it
        (relative to the working directory).
    source: value of the ``source`` column (default: each input's folder or file name).
    tasks: number of tasks the inputs are split into (0 = one per input file, at most 64).
        Output is identical for any number of workers because tasks, not workers, define shards.
    workers: processes running tasks at once (local executor; ``--workers`` replaces it).
    executor: "local", "ray" or "slurm" (``--executor`` replaces it).
    shard_max_bytes: rotate a shard after this many bytes of text (default 256 MiB).
    ingest: reader options (see the ``[...ingest]`` table).
    steps: the steps, in order; each an inline table with ``type`` and that step's keys.
    ray / slurm: executor options.
    """

    path_fields: ClassVar[tuple[str, ...]] = ("inputs", "output")

    description: str = ""
    inputs: list[str] = field(default_factory=list)
    output: str = "output"
    source: str | None = None
    tasks: int = 0
    workers: int = 1
    executor: Literal["local", "ray", "slurm"] = "local"
    shard_max_bytes: int = DEFAULT_MAX_SHARD_BYTES
    ingest: IngestConfig = field(default_factory=IngestConfig)
    steps: list[dict[str, Any]] = field(default_factory=list)
    ray: RayConfig = field(default_factory=RayConfig)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    name: str = ""

    def validate(self) -> None:
        require(self.tasks >= 0, "tasks", f"must be >= 0, got {self.tasks}")
        require(self.workers >= 1, "workers", f"must be >= 1, got {self.workers}")
        require(self.shard_max_bytes >= 1 << 16, "shard_max_bytes", f"must be >= 65536, got {self.shard_max_bytes}")
        where = getattr(self, "_where", "pipeline")
        step_configs: list[StepConfig] = [
            parse_step(table, where=f"{where}.steps[{i}]") for i, table in enumerate(self.steps)
        ]
        object.__setattr__(self, "step_configs", step_configs)  # derived from steps, built once

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["steps"] = [s.to_dict() for s in self.step_configs]
        return out


@dataclass
class PipelinesFile:
    """A parsed ``pipelines.toml``: pipelines by name plus registered top-level sections."""

    path: Path
    default_pipeline: str
    pipelines: dict[str, PipelineConfig]
    sections: dict[str, ConfigBase]

    def pipeline(self, name: str | None) -> PipelineConfig:
        """The pipeline ``name`` (default: the file's default pipeline)."""
        name = name or self.default_pipeline
        if name not in self.pipelines:
            raise ConfigError(f"{self.path}: no pipeline {name!r} (defined: {', '.join(sorted(self.pipelines))})")
        return self.pipelines[name]


def load_pipelines(path: str | Path) -> PipelinesFile:
    """Parse and validate a pipelines file (every key checked before any work starts)."""
    path = Path(path)
    data = read_toml(path)
    data = dict(data)
    default = data.pop("default_pipeline", None)
    tables = data.pop("pipelines", None)
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: needs at least one [pipelines.<name>] table")
    pipelines: dict[str, PipelineConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: pipelines.{name}: expected a table")
        cfg = PipelineConfig.from_table({**table, "name": name}, where=f"pipelines.{name}")
        pipelines[name] = cfg.resolve_paths(config_base(path))
    if default is None:
        default = next(iter(pipelines))
    if not isinstance(default, str) or default not in pipelines:
        raise ConfigError(f"{path}: default_pipeline {default!r} is not a defined pipeline")
    known = section_types()
    sections: dict[str, ConfigBase] = {}
    for key, table in data.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown top-level key {key!r} (known: default_pipeline, pipelines"
                f"{', ' if known else ''}{', '.join(sorted(known))})"
            )
        sections[key] = known[key].from_table(table, where=key)
    return PipelinesFile(path=path, default_pipeline=default, pipelines=pipelines, sections=sections)


def default_config_path() -> Path:
    """``./pipelines.toml`` when the working directory has one, else the packaged default."""
    for name in DEFAULT_CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    return PACKAGED_CONFIG


def config_base(path: str | Path) -> Path:
    """The folder relative paths in the config file ``path`` resolve against: the file's own
    folder, or the working directory for the packaged default (never inside the package)."""
    path = Path(path)
    return Path.cwd() if path.resolve() == PACKAGED_CONFIG else path.parent
