"""Document-masked attention for packed rows, as attention implementations transformers can use.

A packed row holds several documents; ``position_ids`` restart at 0 at each document (the token
shards' format, and TRL's padding-free batches) or the batch carries ``cu_seq_lens_q`` /
``max_length_q`` (transformers' ``DataCollatorWithFlattening``). No token may attend across a
document boundary. Plain ``sdpa`` honours that only through a dense ``[B, 1, S, S]`` block-diagonal
mask, which keeps it off its flash kernel (about 3x the attention time of causal flash on an
H200 at seq 4096). The kernels here cost about what causal attention costs:

* ``varlen``: ``torch.nn.attention.varlen.varlen_attn`` (FlashAttention-2 inside torch) over the
  flattened batch with one segment per document; causal = ``window_size=(-1, 0)``. Torch builds
  without its ``enable_gqa`` argument (2.11) get the key/value heads expanded first. CUDA, fp16 /
  bf16 only.
* ``flex``: ``torch.nn.attention.flex_attention`` with a document-causal ``BlockMask`` built once
  per forward (transformers' compiled ``create_block_mask`` over its packed-sequence mask) and the
  attention kernel compiled by ``torch.compile``; GQA natively. CUDA; runs unfused (eager) on CPU.
* ``sdpa``: transformers' own sdpa mask and attention (the dense block-diagonal mask): the CPU
  path and the fallback for what the fast kernels do not take (a KV cache, padding masks, fp32).

:func:`register` adds them to transformers' ``AttentionInterface`` / ``AttentionMaskInterface``
under :data:`IMPLEMENTATIONS`, so any Hugging Face causal LM that passes ``position_ids`` to its
attention (Llama, Qwen2, Mistral, Gemma, ...) uses them through ``attn_implementation=``.
``hanforge`` picks per device: :data:`DEFAULT_CUDA_KERNEL` on a GPU, ``sdpa`` on CPU;
:func:`attn_implementation` maps ``model.attention`` (``auto`` / ``varlen`` / ``flex``) to these
names. :func:`patch_unsloth` gives Unsloth's packed path (``packed_seq_lengths``) the same varlen
kernel on torch builds where Unsloth itself turns it off.

Measured on an H200 (torch 2.11, BENCHMARKS.md, "Document-masked attention"): one attention call
at the Qwen2.5-7B shape over 4 x 4096 packed tokens, forward + backward: sdpa causal without a
document mask 3.53 ms, sdpa with the dense mask 11.36 ms, flex 3.93 ms, varlen 4.78 ms (heads
expanded). In a whole 7B LoRA step the two are level (6,424 / 6,448 vs 6,393 tokens/s, inside the
run-to-run spread) and both beat the dense mask by 12-13 %. The default is varlen: flex's
compile took ~70 s more at the first step and, compiled for static shapes, it compiles again
for every new batch shape (variable-length batches), which varlen never does.

Written here rather than taken from a library: transformers ships flash-attn and flex paths but
its flash path needs the ``flash-attn`` package (absent on the GPU image) and its flex path
expands GQA heads whenever the head count is not a power of two (Qwen2.5: 28 and 12 heads).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import torch

#: Attention implementations :func:`register` adds (``model.attention`` / ``attn_implementation``).
IMPLEMENTATIONS: tuple[str, ...] = ("hanforge", "hanforge_varlen", "hanforge_flex")
#: The kernel ``hanforge`` uses on a CUDA GPU (level with flex in a 7B step on the H200, no compiling).
DEFAULT_CUDA_KERNEL = "varlen"

_FLASH_DTYPES = (torch.float16, torch.bfloat16)


# ------------------------------------------------------------------------------ segment bounds


def document_starts(position_ids: torch.Tensor) -> torch.Tensor:
    """Bool ``[B, S]``: True where a document starts (each row start, and wherever the position
    does not continue the previous one by +1, as transformers' packed-sequence detection reads it)."""
    starts = torch.ones_like(position_ids, dtype=torch.bool)
    starts[:, 1:] = (position_ids[:, 1:] - position_ids[:, :-1]) != 1
    return starts


def cu_seqlens_from_position_ids(position_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cumulative segment lengths (int32, ``[N + 1]``) over the flattened ``[B, S]`` batch, and
    the longest segment. Every row start is a segment start, so segments never span rows."""
    starts = document_starts(position_ids).flatten()
    idx = torch.nonzero(starts).flatten()
    total = torch.tensor([starts.numel()], device=idx.device, dtype=idx.dtype)
    cu = torch.cat([idx, total]).to(torch.int32)
    return cu, int((cu[1:] - cu[:-1]).max())


class _LastSegments:
    """One-entry cache of :func:`cu_seqlens_from_position_ids`.

    Every layer of one forward (and its gradient-checkpointing recomputation) receives the same
    ``position_ids`` tensor; computing the bounds once saves a device sync per layer.
    """

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.value: tuple[torch.Tensor, int] | None = None
        self.tensor: torch.Tensor | None = None

    def get(self, position_ids: torch.Tensor, batch: int) -> tuple[torch.Tensor, int]:
        key = (position_ids.data_ptr(), position_ids._version, tuple(position_ids.shape), batch)
        if self.tensor is position_ids and self.key == key and self.value is not None:
            return self.value
        self.value = cu_seqlens_from_position_ids(position_ids.expand(batch, -1))
        self.tensor, self.key = position_ids, key
        return self.value


_SEGMENTS = _LastSegments()


def _segments(query: torch.Tensor, kwargs: dict[str, Any]) -> tuple[torch.Tensor, int]:
    batch, _, seq_len, _ = query.shape
    cu = kwargs.get("cu_seq_lens_q")
    if cu is not None and kwargs.get("max_length_q") is not None and batch == 1:
        return cu.to(device=query.device, dtype=torch.int32), int(kwargs["max_length_q"])
    position_ids = kwargs.get("position_ids")
    if position_ids is None:  # no packing information: each row is one sequence
        position_ids = torch.arange(seq_len, device=query.device)[None]
    return _SEGMENTS.get(position_ids, batch)


# ------------------------------------------------------------------------------------ kernels


@functools.cache
def _varlen_signature() -> frozenset[str]:
    from torch.nn.attention.varlen import varlen_attn

    return frozenset(inspect.signature(varlen_attn).parameters)


def varlen_attn_compat(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    cu_seq_q: torch.Tensor,
    cu_seq_k: torch.Tensor,
    max_q: int,
    max_k: int,
    *,
    scale: float | None = None,
    window_size: tuple[int, int] = (-1, -1),
    enable_gqa: bool = False,
) -> torch.Tensor:
    """``torch.nn.attention.varlen.varlen_attn`` with the torch 2.12 signature on any torch that has it.

    Tensors are ``[T, H, D]``. Where the installed torch lacks ``enable_gqa`` (2.11), key/value
    heads are repeated to the query's; where it lacks ``window_size`` (2.10), only full
    ``(-1, -1)`` and causal ``(-1, 0)`` windows are accepted.
    """
    from torch.nn.attention.varlen import varlen_attn

    params = _varlen_signature()
    kwargs: dict[str, Any] = {}
    if scale is not None and "scale" in params:
        kwargs["scale"] = scale
    elif scale is not None and abs(scale - query.shape[-1] ** -0.5) > 1e-6:
        raise ValueError(f"this torch's varlen_attn takes no scale (asked {scale})")
    if query.shape[1] != key.shape[1]:
        if not enable_gqa:
            raise ValueError(f"{query.shape[1]} query heads but {key.shape[1]} key heads; pass enable_gqa=True")
        if "enable_gqa" in params:
            kwargs["enable_gqa"] = True
        else:
            rep = query.shape[1] // key.shape[1]
            key = key.repeat_interleave(rep, dim=1)
            value = value.repeat_interleave(rep, dim=1)
    if "window_size" in params:
        kwargs["window_size"] = tuple(window_size)
    elif tuple(window_size) in ((-1, -1), (-1, 0)):
        kwargs["is_causal"] = tuple(window_size) == (-1, 0)
    else:
        raise ValueError(f"this torch's varlen_attn takes no window_size (asked {window_size})")
    return varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k, **kwargs)


#: The varlen kernel (tests swap in a CPU reference to check the plumbing around it).
VARLEN_KERNEL: Callable[..., torch.Tensor] = varlen_attn_compat


def varlen_document_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    cu_seqlens: torch.Tensor,
    max_seqlen: int,
    scale: float | None,
) -> torch.Tensor:
    """Causal attention inside each segment of the flattened batch.

    ``query`` ``[B, H, S, D]``, ``key``/``value`` ``[B, H_kv, S, D]`` -> ``[B, S, H, D]``.
    """
    batch, heads, seq_len, dim = query.shape
    q = query.transpose(1, 2).reshape(batch * seq_len, heads, dim)
    k = key.transpose(1, 2).reshape(batch * seq_len, key.shape[1], dim)
    v = value.transpose(1, 2).reshape(batch * seq_len, value.shape[1], value.shape[-1])
    out = VARLEN_KERNEL(
        q,
        k,
        v,
        cu_seqlens,
        cu_seqlens,
        max_seqlen,
        max_seqlen,
        scale=scale,
        window_size=(-1, 0),
        enable_gqa=heads != key.shape[1],
    )
    return out.reshape(batch, seq_len, heads, value.shape[-1])


@functools.cache
def _compiled_flex() -> Callable[..., torch.Tensor]:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_document_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, block_mask, scale: float | None
) -> torch.Tensor:
    """flex_attention under ``block_mask`` (compiled on CUDA, unfused on CPU) -> ``[B, S, H, D]``."""
    from torch.nn.attention.flex_attention import flex_attention

    gqa = query.shape[1] != key.shape[1]
    if query.is_cuda:
        out = _compiled_flex()(query, key, value, block_mask=block_mask, scale=scale, enable_gqa=gqa)
    else:  # CPU: the unfused reference (compiling it needs a C++ toolchain and minutes)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
            out = flex_attention(query, key, value, block_mask=block_mask, scale=scale, enable_gqa=gqa)
    return out.transpose(1, 2).contiguous()


def flex_block_mask(
    mask_function: Callable, *, batch_size: int, length: int, attention_mask: torch.Tensor | None, device
):
    """Document-causal ``BlockMask`` from transformers' mask function (packing and causality in it),
    padding added; ``create_block_mask`` compiled on CUDA."""
    from torch.nn.attention.flex_attention import create_block_mask
    from transformers.masking_utils import and_masks, padding_mask_function

    if attention_mask is not None and not bool(attention_mask.all()):
        mask_function = and_masks(mask_function, padding_mask_function(attention_mask[:, -length:].bool()))
    return create_block_mask(
        mask_function, B=batch_size, H=None, Q_LEN=length, KV_LEN=length, device=device, _compile=device.type == "cuda"
    )


# ------------------------------------------------------------- transformers attention interface


def _varlen_takes(query: torch.Tensor) -> bool:
    return (
        query.is_cuda
        and query.dtype in _FLASH_DTYPES
        and query.shape[-1] <= 256
        and torch.cuda.get_device_capability(query.device)[0] >= 8
        and torch.backends.cuda.is_flash_attention_available()
    )


def _mask_for(kernel: str) -> Callable[..., Any]:
    """The mask builder of ``kernel``: called once per forward by transformers' ``create_causal_mask``."""
    from transformers.masking_utils import causal_mask_function, sdpa_mask

    def build(
        batch_size: int,
        q_length: int,
        kv_length: int,
        q_offset: int = 0,
        kv_offset: int = 0,
        mask_function: Callable = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ):
        device = torch.device(kwargs.get("device", "cpu"))
        args = dict(
            batch_size=batch_size,
            q_length=q_length,
            kv_length=kv_length,
            q_offset=q_offset,
            kv_offset=kv_offset,
            attention_mask=attention_mask,
            **kwargs,
        )
        if mask_function is not None:
            args["mask_function"] = mask_function
        chosen = kernel if kernel != "auto" else (DEFAULT_CUDA_KERNEL if device.type == "cuda" else "sdpa")
        plain = q_length == kv_length and not q_offset and not kv_offset
        padded = attention_mask is not None and not bool(attention_mask.all())
        if chosen == "flex" and device.type == "cpu" and torch.is_grad_enabled():
            chosen = "sdpa"  # flex has no backward on CPU
        if chosen == "flex" and plain:
            return flex_block_mask(
                mask_function or causal_mask_function,
                batch_size=batch_size,
                length=q_length,
                attention_mask=attention_mask,
                device=device,
            )
        if chosen == "varlen" and plain and not padded and kwargs.get("dtype") in _FLASH_DTYPES:
            return None  # the attention reads the segments from position_ids / cu_seq_lens
        return sdpa_mask(**args)

    return build


def _attention_for(kernel: str) -> Callable[..., tuple[torch.Tensor, None]]:
    from torch.nn.attention.flex_attention import BlockMask
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    def attend(
        module: torch.nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: Any,
        scaling: float | None = None,
        dropout: float = 0.0,
        **kwargs,
    ) -> tuple[torch.Tensor, None]:
        if isinstance(attention_mask, BlockMask):
            if dropout:
                raise ValueError(f"attention '{kernel}' (flex) takes no attention dropout")
            return flex_document_attention(query, key, value, block_mask=attention_mask, scale=scaling), None
        fast = attention_mask is None and query.shape[2] == key.shape[2] and query.shape[2] > 1
        if fast and kernel != "flex" and _varlen_takes(query):
            if dropout:
                raise ValueError(f"attention '{kernel}' (varlen) takes no attention dropout")
            cu, max_len = _segments(query, kwargs)
            return varlen_document_attention(query, key, value, cu_seqlens=cu, max_seqlen=max_len, scale=scaling), None
        if fast and kwargs.get("position_ids") is not None:
            # mask skipped but the rows may be packed (e.g. CPU with a varlen request): build it here
            mask = _dense_document_mask(kwargs["position_ids"], query.shape[0])
            if mask is not None:
                attention_mask = mask
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )

    return attend


def _dense_document_mask(position_ids: torch.Tensor, batch: int) -> torch.Tensor | None:
    """Bool ``[B, 1, S, S]`` document-causal mask, or None when every row is one document."""
    if position_ids.shape[0] != batch:
        position_ids = position_ids.expand(batch, -1)
    doc = document_starts(position_ids).cumsum(-1)
    if bool((doc[:, -1] == 1).all()):
        return None
    seq_len = position_ids.shape[1]
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=doc.device).tril()
    return ((doc[:, :, None] == doc[:, None, :]) & causal)[:, None]


_KERNEL_OF = {"hanforge": "auto", "hanforge_varlen": "varlen", "hanforge_flex": "flex"}


@functools.cache
def register() -> tuple[str, ...]:
    """Register :data:`IMPLEMENTATIONS` with transformers (idempotent); returns their names."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    for name, kernel in _KERNEL_OF.items():
        AttentionInterface.register(name, _attention_for(kernel))
        AttentionMaskInterface.register(name, _mask_for(kernel))
    return IMPLEMENTATIONS


def attn_implementation(kind: str, *, device: torch.device | str) -> str:
    """The ``attn_implementation`` for ``model.attention = kind`` on ``device`` (registers first).

    ``auto``: ``hanforge`` on a CUDA GPU (:data:`DEFAULT_CUDA_KERNEL`, sdpa where it cannot run),
    plain ``sdpa`` elsewhere; ``varlen`` / ``flex``: that kernel (transformers' sdpa where the
    kernel cannot run: CPU for varlen, CPU backward for flex).
    """
    names = {"varlen": "hanforge_varlen", "flex": "hanforge_flex"}
    if kind != "auto" and kind not in names:
        raise ValueError(f"attention kind {kind!r} is not one of auto, varlen, flex")
    register()
    if kind == "auto":
        return "hanforge" if torch.device(device).type == "cuda" else "sdpa"
    return names[kind]


# -------------------------------------------------------------------------------------- unsloth


def patch_unsloth() -> str:
    """Give Unsloth's packed attention (``packed_seq_lengths``) torch's varlen kernel.

    Unsloth (2026.10) uses ``varlen_attn`` only on torch builds whose signature has
    ``enable_gqa`` (2.12+); on 2.11 it falls back to one SDPA call per run of equal-length
    documents. Installing :func:`varlen_attn_compat` (heads expanded where needed) turns its
    varlen route on. Returns what was done, in words. Call after ``import unsloth``.
    """
    try:
        from unsloth.utils import attention_dispatch as dispatch
    except ImportError:
        return "unsloth not importable: nothing patched"
    if getattr(dispatch, "_TORCH_VARLEN_ATTN", "missing") == "missing":
        return "this unsloth has no torch-varlen hook: nothing patched"
    if dispatch._TORCH_VARLEN_ATTN is not None:
        return "unsloth already uses torch varlen_attn"
    if not (torch.cuda.is_available() and torch.backends.cuda.is_flash_attention_available()):
        return "no CUDA flash kernel: nothing patched"
    try:
        _varlen_signature()
    except ImportError:
        return "this torch has no torch.nn.attention.varlen: nothing patched"
    dispatch._TORCH_VARLEN_ATTN = varlen_attn_compat
    return "unsloth packed attention: torch varlen_attn (hanforge compat wrapper)"
