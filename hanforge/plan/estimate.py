"""Time and cost of a training recipe from measured throughput.

``hours = tokens / (tokens_per_s × num_gpus) / 3600`` and ``cost = hours × num_gpus × price``,
with tokens/s taken from the closest measured row (:mod:`hanforge.plan.throughput`): same GPU
kind, fine-tuning mode and stage when there is one. Every step away from a measurement is
stated in ``assumptions``: another model size scales tokens/s by the parameter ratio (per-token
compute ∝ parameters), several GPUs are assumed to scale linearly (hanforge trains on one GPU
today, so this is a lower bound on time), a model whose bf16 weights do not fit the GPU needs a
4-bit base (QLoRA), which no shipped row measures.
"""

from __future__ import annotations

import dataclasses

from hanforge.errors import ConfigError
from hanforge.plan.throughput import Measurement

#: Memory of one GPU in GB, for the "does the base fit" check (bf16 weights = 2 bytes/parameter).
GPU_MEMORY_GB = {"H200": 141, "H100": 80, "A100": 80, "L40S": 48, "A10G": 24, "RTX4090": 24}


@dataclasses.dataclass
class Plan:
    """The estimate and how it was reached."""

    stage: str
    num_params_b: float
    tokens: float
    gpu: str
    num_gpus: int
    price_per_gpu_hour: float
    measured: Measurement
    tokens_per_s_per_gpu: float
    hours: float
    gpu_hours: float
    cost: float
    assumptions: list[str]

    @property
    def days(self) -> float:
        return self.hours / 24


def _pick(
    rows: list[Measurement], *, stage: str, finetuning: str, gpu: str, num_params_b: float, backend: str | None
) -> Measurement:
    cands = [r for r in rows if r.gpu.lower() == gpu.lower() and r.finetuning == finetuning]
    if backend:
        cands = [r for r in cands if r.backend == backend]
    if not cands:
        kinds = sorted({r.gpu for r in rows if r.finetuning == finetuning})
        raise ConfigError(
            f"gpu {gpu!r}: no measured {finetuning} throughput{' for backend ' + backend if backend else ''} "
            f"(measured: {', '.join(kinds) or 'none'}); run hanforge plan --calibrate N --config train.toml "
            "on that GPU, or name a measured kind"
        )

    def rank(r: Measurement):
        size = abs(r.num_params_b - num_params_b) / num_params_b
        return (r.stage != stage, round(size, 2), r.document_masking, -r.tokens_per_s)

    return min(cands, key=rank)


def estimate(
    rows: list[Measurement],
    *,
    stage: str,
    num_params_b: float,
    tokens: float,
    gpu: str,
    num_gpus: int = 1,
    price_per_gpu_hour: float = 0.0,
    finetuning: str = "lora",
    backend: str | None = None,
) -> Plan:
    """The :class:`Plan` for the recipe; raises ConfigError for bad values or no usable row."""
    if tokens <= 0 or num_params_b <= 0 or num_gpus < 1 or price_per_gpu_hour < 0:
        raise ConfigError("tokens and model size must be > 0, gpus >= 1, price >= 0")
    m = _pick(rows, stage=stage, finetuning=finetuning, gpu=gpu, num_params_b=num_params_b, backend=backend)
    notes: list[str] = [
        f"measured: {m.id} ({m.shape}, {m.backend}, {m.tokens_per_s:,.0f} tokens/s on "
        f"{m.num_gpus}x {m.gpu}, {m.date}; {m.source})"
    ]
    per_gpu = m.tokens_per_s / m.num_gpus
    if abs(m.num_params_b - num_params_b) / num_params_b > 0.05:
        per_gpu *= m.num_params_b / num_params_b
        notes.append(
            f"scaled from {m.num_params_b:g}B to {num_params_b:g}B parameters by the parameter ratio "
            "(compute per token ∝ parameters; not measured)"
        )
    if m.stage != stage:
        notes.append(
            f"stage {stage}: no row of that stage; the {m.stage} figure is used "
            + (
                "(DPO scores chosen and rejected with policy and reference: expect 2-3x slower)"
                if stage == "dpo"
                else "(same per-token cost for packed rows)"
            )
        )
    if num_gpus > 1:
        notes.append(
            f"{num_gpus} GPUs assumed to scale linearly; hanforge trains on one GPU today, so the time is a lower bound"
        )
    memory = GPU_MEMORY_GB.get(gpu.upper())
    if memory and finetuning == "lora" and 2 * num_params_b > 0.9 * memory:
        notes.append(
            f"{num_params_b:g}B in bf16 needs {2 * num_params_b:.0f} GB of weights, more than one "
            f"{gpu} ({memory} GB) holds: needs a 4-bit base (QLoRA, unsloth) or sharding; "
            "neither is in the measured rows"
        )
    if finetuning == "full":
        notes.append(
            "full fine-tuning also needs optimizer state (~16 bytes/parameter) beyond one GPU for large models"
        )
    tps = per_gpu * num_gpus
    hours = tokens / tps / 3600
    return Plan(
        stage=stage,
        num_params_b=num_params_b,
        tokens=tokens,
        gpu=gpu,
        num_gpus=num_gpus,
        price_per_gpu_hour=price_per_gpu_hour,
        measured=m,
        tokens_per_s_per_gpu=per_gpu,
        hours=hours,
        gpu_hours=hours * num_gpus,
        cost=hours * num_gpus * price_per_gpu_hour,
        assumptions=notes,
    )


def format_plan(plan: Plan) -> str:
    """The readable answer of ``hanforge plan``."""
    lines = [
        f"hanforge plan: {plan.stage}, {plan.num_params_b:g}B parameters, {plan.tokens:,.0f} tokens "
        f"on {plan.num_gpus}x {plan.gpu}",
        f"  throughput  {plan.tokens_per_s_per_gpu:,.0f} tokens/s per GPU "
        f"({plan.tokens_per_s_per_gpu * plan.num_gpus:,.0f} in all)",
        f"  time        {plan.hours:,.1f} h = {plan.days:,.1f} days",
        f"  GPU-hours   {plan.gpu_hours:,.1f}",
        f"  cost        {plan.cost:,.2f} at {plan.price_per_gpu_hour:,.2f} per GPU-hour",
    ]
    lines += [f"  - {a}" for a in plan.assumptions]
    return "\n".join(lines)
