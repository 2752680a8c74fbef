"""The table of measured training throughput that ``hanforge plan`` computes from.

Shipped figures (``hanforge/assets/throughput.json``) come from ``bench/train_gpu.py`` runs, each
with its machine, date, exact command and raw-output file. ``hanforge plan --calibrate N`` adds
the user's own measurements to a second table (``$HANFORGE_CACHE/throughput.json`` unless
``--table`` names another file); both are read, the user's rows first.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_json
from hanforge.errors import ConfigError
from hanforge.export.llamacpp import cache_root

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "throughput.json"


@dataclasses.dataclass
class Measurement:
    """One measured training configuration."""

    id: str
    stage: str
    finetuning: str
    gpu: str
    num_gpus: int
    shape: str
    num_params_b: float
    backend: str
    seq_len: int
    batch: int
    tokens_per_s: float
    """Non-padding tokens per second on all ``num_gpus`` together."""
    peak_memory_gb: float
    date: str
    machine: str
    source: str
    command: str
    lora_rank: int | None = None
    document_masking: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str) -> Measurement:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.name not in d]
        if missing:
            raise ConfigError(f"{where}: throughput entry {d.get('id', '?')} lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in names})


def default_user_table() -> Path:
    return cache_root() / "throughput.json"


def load_table(user_table: Path | None = None) -> list[Measurement]:
    """User rows (if the file exists) followed by the shipped rows."""
    rows: list[Measurement] = []
    for path in (user_table or default_user_table(), SHIPPED):
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc})") from None
            rows += [Measurement.from_dict(e, where=str(path)) for e in data.get("entries", [])]
    return rows


def add_measurement(entry: Measurement, *, table: Path | None = None) -> Path:
    """Append ``entry`` to the user table (replacing a row with the same id); return the file."""
    path = table or default_user_table()
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"entries": []}
    data["entries"] = [e for e in data["entries"] if e.get("id") != entry.id] + [dataclasses.asdict(entry)]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
    return path
