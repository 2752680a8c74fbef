"""A plain-torch stand-in for TRL's Triton LM-head kernel, so TRL's trainers run where Triton is missing.

TRL 1.15 computes per-token log-probabilities in DPO, GRPO, KTO, RLOO and SFT through a fused LM
head (``trl.trainer.utils.add_fused_lm_head``) whose only implementation is the Triton kernel
``trl.kernels.ChunkedLogProbFunction``. Triton ships with CUDA builds of torch only, so on a
CPU-only install (hanforge's CI, laptops) TRL leaves ``trl.trainer.utils._ChunkedLogProbFunction``
as ``None`` and every DPO/GRPO step fails with ``'NoneType' object has no attribute 'apply'``
(TRL issue #7244 plans torch fallbacks). :func:`install_if_missing` fills that one slot with
:class:`TorchLogProbHead`, which computes the same outputs from the materialised logits (fine for
the small models that train on a CPU) and lets autograd do the backward. It never replaces the
Triton kernel where it exists, and it says so when it steps in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class TorchLogProbHead:
    """Same call and outputs as ``trl.kernels.ChunkedLogProbFunction.apply`` (see its docstring)."""

    @staticmethod
    def apply(
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        temperature: float,
        chunk_size: int,
        final_logit_softcapping: float | None = None,
        logit_scale: float = 1.0,
        outputs: tuple[str, ...] = ("log_probs",),
    ):
        z = hidden.float() @ weight.float().t()
        if bias is not None:
            z = z + bias.float()
        z = z * logit_scale
        if final_logit_softcapping is not None:
            z = final_logit_softcapping * torch.tanh(z / final_logit_softcapping)
        z = z / temperature
        log_z = torch.logsumexp(z, dim=-1)
        target_logit = z.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
        logprobs = target_logit - log_z
        entropy = log_z - (torch.softmax(z, dim=-1) * z).sum(-1) if "entropy" in outputs else None
        with torch.no_grad():
            log_sum_sq = torch.logsumexp(2 * z, dim=-1) - 2 * log_z if "log_sum_sq_probs" in outputs else None
            mean_logits = z.mean(-1) if "mean_logits" in outputs else None
            is_top1 = z.argmax(-1) == targets if "is_top1" in outputs else None  # first maximum, as the kernel
        return logprobs, entropy, log_sum_sq, mean_logits, is_top1


def install_if_missing(log: Callable[[str], None] | None = None) -> bool:
    """Put :class:`TorchLogProbHead` in TRL's kernel slot when Triton left it empty; True when it did."""
    from trl.trainer import utils as trl_utils

    if getattr(trl_utils, "_ChunkedLogProbFunction", False) is not None:
        return False
    trl_utils._ChunkedLogProbFunction = TorchLogProbHead
    if log is not None:
        log("TRL's Triton LM-head kernel is unavailable here (no triton): using hanforge's torch version")
    return True
