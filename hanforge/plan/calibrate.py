"""``hanforge train --calibrate N`` / ``hanforge plan --calibrate N``: measure training throughput
on this machine and keep it (both verbs call :func:`calibrate`).

Runs ``N`` optimizer steps of the given train.toml (into a scratch output folder, no export) with
hanforge's own trainer, takes the median ``tokens_per_s`` of the logged windows after the first
third (warm-up), and adds a row to the user's throughput table with the GPU (or CPU) name, model
shape and settings, so that later plans for this machine use it.
"""

from __future__ import annotations

import datetime
import json
import platform
import statistics
import tempfile
from pathlib import Path

from hanforge.errors import ConfigError
from hanforge.plan.throughput import Measurement, add_measurement


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        for kind in ("H200", "H100", "A100", "L40S", "A10G", "RTX 4090"):
            if kind in name:
                return kind.replace(" ", "")
        return name
    return "CPU"


def calibrate(
    config_path: str | Path,
    *,
    steps: int,
    stage: str | None = None,
    table: Path | None = None,
    backend: str = "auto",
    command: str | None = None,
    log=print,
) -> tuple[Measurement, Path]:
    """Measure ``steps`` steps of ``config_path``; add the row to ``table``; return ``(row, table file)``.

    ``command`` is the command line recorded with the row (default: the ``hanforge plan`` one).
    """
    import torch

    from hanforge.train.config import load_train_config
    from hanforge.train.trainer import train

    if steps < 3:
        raise ConfigError(f"--calibrate {steps}: needs at least 3 steps (the first third is warm-up)")
    with tempfile.TemporaryDirectory(prefix="hanforge-calibrate-") as tmp:
        config = load_train_config(
            config_path,
            overrides={
                "output": tmp,
                "run": {"max_steps": steps, "log_every": 1, "save_every": 0, "tensorboard": False},
                "export": {"adapter": False, "merged": False},
            },
        )
        summary = train(config, stage=stage, backend=backend, progress=False, log=log)
        lines = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    rates = [x["tokens_per_s"] for x in lines if "tokens_per_s" in x]
    timed = rates[len(rates) // 3 :] or rates
    if not timed:
        raise ConfigError(f"{config_path}: the calibration run logged no throughput")
    info = summary.model_info
    gpu = _device_name()
    config = config.with_stage(stage)
    row = Measurement(
        id=f"calibrated-{gpu}-{config.stage}-{Path(config.model.path).name}-{datetime.date.today().isoformat()}",
        stage=config.stage,
        finetuning=config.model.finetuning,
        gpu=gpu,
        num_gpus=1,
        shape=Path(config.model.path).name,
        num_params_b=round(info.get("num_params", 0) / 1e9, 6),
        backend=summary.backend,
        seq_len=config.data.max_length,
        batch=config.run.batch_size,
        tokens_per_s=round(statistics.median(timed), 1),
        peak_memory_gb=summary.peak_memory_gb,
        date=datetime.date.today().isoformat(),
        machine=f"{platform.node()} ({gpu}, torch {torch.__version__})",
        source=command or f"hanforge plan --calibrate {steps} --config {config_path}",
        command=command or f"hanforge plan --calibrate {steps} --config {config_path}",
        lora_rank=config.lora.rank if config.model.finetuning == "lora" else None,
        document_masking=config.run.document_masking,
    )
    return row, add_measurement(row, table=table)


def format_calibration(row: Measurement, table: Path) -> str:
    """The one line both verbs print after a calibration."""
    return (
        f"measured {row.tokens_per_s:,.0f} tokens/s ({row.stage}, {row.shape}, {row.num_params_b:g}B, "
        f"{row.backend} on {row.gpu}); added as {row.id} to {table}"
    )
