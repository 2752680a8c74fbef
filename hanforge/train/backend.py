"""Pick and load the training backend: Unsloth on a CUDA GPU, else transformers + peft.

:func:`choose_backend` decides (and says why, and what to install for the fast path);
:func:`load_model` returns the model ready for training (LoRA adapters or full fine-tuning,
optional 4-bit base on unsloth, EEVE-style initialised new embedding rows) and its tokenizer.
Both backends hand the trainer an ordinary ``torch.nn.Module`` with the Hugging Face causal-LM
forward, so the training loop in :mod:`hanforge.train.trainer` is the same code on both.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any, Literal

import torch

from hanforge.errors import TrainingError
from hanforge.train.config import TrainConfig
from hanforge.train.tokenizer import load_tokenizer_for_training

BackendName = Literal["unsloth", "transformers"]
INSTALL_HINT = "for the fast path use a CUDA GPU and install unsloth (pip install 'hanforge[train]' unsloth)"


@dataclasses.dataclass
class Backend:
    """The backend a run uses and why."""

    name: BackendName
    device: torch.device
    dtype: torch.dtype
    reason: str
    """One line for the user: what runs, why, and what to install for the fast path."""


def _resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def unsloth_available() -> bool:
    """True when the unsloth package is installed (it is only importable with a GPU)."""
    return importlib.util.find_spec("unsloth") is not None


def choose_backend(requested: str = "auto", *, dtype: str = "auto") -> Backend:
    """``auto``: unsloth when a CUDA GPU and unsloth are there, else transformers + peft.

    ``unsloth`` or ``transformers`` force one (``unsloth`` without GPU or package raises
    TrainingError saying what is missing).
    """
    if requested not in ("auto", "unsloth", "transformers"):
        raise TrainingError(f"backend {requested!r} is not one of auto, unsloth, transformers")
    has_cuda = torch.cuda.is_available()
    has_unsloth = unsloth_available()
    device = torch.device("cuda") if has_cuda else torch.device("cpu")
    torch_dtype = _resolve_dtype(dtype, device)
    if requested == "unsloth" or (requested == "auto" and has_cuda and has_unsloth):
        if not has_cuda:
            raise TrainingError(
                "backend unsloth needs a CUDA GPU and none is visible; "
                "use backend 'transformers' (CPU) or run on a GPU machine"
            )
        if not has_unsloth:
            raise TrainingError("backend unsloth is not installed: pip install unsloth")
        return Backend(
            "unsloth", device, torch_dtype, f"backend: unsloth on {torch.cuda.get_device_name(0)} ({torch_dtype})"
        )
    if requested == "transformers":
        why = "asked for"
    elif not has_cuda:
        why = "no CUDA GPU visible"
    else:
        why = "unsloth is not installed"
    where = torch.cuda.get_device_name(0) if has_cuda else "CPU"
    return Backend(
        "transformers",
        device,
        torch_dtype,
        f"backend: transformers + peft on {where} ({torch_dtype}; {why}); {INSTALL_HINT}",
    )


def _lora_kwargs(config: TrainConfig, *, train_embeddings: bool) -> dict[str, Any]:
    lora = config.lora
    return {
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": list(lora.target_modules),
        "use_rslora": lora.use_rslora,
        "modules_to_save": ["embed_tokens", "lm_head"] if train_embeddings else None,
    }


def _unsloth_checkpointing(mc) -> str | bool:
    if not mc.gradient_checkpointing:
        return False
    return "unsloth" if mc.offload_activations else True


def load_model(config: TrainConfig, backend: Backend):
    """Load ``config.model`` on ``backend``; return ``(model, tokenizer, info)``.

    ``info`` records the EEVE initialisation (if any) and the numbers of trainable / total
    parameters. LoRA wraps the model with peft (unsloth: its own ``get_peft_model``).
    """
    from hanforge.train.vocab import extend_embeddings

    mc = config.model
    tok_path = mc.tokenizer or mc.path
    tokenizer = load_tokenizer_for_training(tok_path)
    extending = config.vocab is not None
    train_embeddings = extending or config.lora.train_embeddings
    if mc.load_in_4bit and backend.name != "unsloth":
        raise TrainingError(
            "model.load_in_4bit needs the unsloth backend (CUDA GPU + bitsandbytes); "
            "set load_in_4bit = false here or " + INSTALL_HINT
        )
    if backend.name == "unsloth":
        from unsloth import FastLanguageModel

        from hanforge.train.attention import patch_unsloth

        patch_unsloth()  # packed rows: torch's varlen flash kernel instead of per-document SDPA
        try:
            model, _ = FastLanguageModel.from_pretrained(
                model_name=mc.path,
                max_seq_length=mc.max_seq_length,
                dtype=backend.dtype,
                load_in_4bit=mc.load_in_4bit,
                full_finetuning=mc.finetuning == "full",
                use_gradient_checkpointing=_unsloth_checkpointing(mc),
            )
        except OSError as exc:
            raise TrainingError(f"model.path {mc.path}: cannot load ({exc})") from None
    else:
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(
                mc.path, dtype=backend.dtype, attn_implementation=mc.attention, local_files_only=True
            )
        except OSError as exc:
            raise TrainingError(f"model.path {mc.path}: cannot load ({exc})") from None
        model.to(backend.device)
    info: dict[str, Any] = {}
    if extending:
        info["vocab_extension"] = extend_embeddings(model, new_tokenizer=tokenizer, config=config.vocab)
    elif len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        raise TrainingError(
            f"tokenizer {tok_path} has {len(tokenizer)} tokens but the model only "
            f"{model.get_input_embeddings().weight.shape[0]} embedding rows; add a [vocab] section "
            "(added_tokens + old_tokenizer) to initialise the new rows"
        )
    if mc.finetuning == "lora":
        kwargs = _lora_kwargs(config, train_embeddings=train_embeddings)
        if backend.name == "unsloth":
            from unsloth import FastLanguageModel

            model = FastLanguageModel.get_peft_model(
                model,
                **kwargs,
                bias="none",
                random_state=config.seed,
                use_gradient_checkpointing=_unsloth_checkpointing(mc),
                max_seq_length=mc.max_seq_length,
            )
        else:
            from peft import LoraConfig, get_peft_model

            tied = bool(getattr(model.config, "tie_word_embeddings", False))
            model = get_peft_model(
                model,
                LoraConfig(task_type="CAUSAL_LM", bias="none", ensure_weight_tying=tied and train_embeddings, **kwargs),
            )
    if backend.name == "transformers" and mc.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if mc.finetuning == "lora":
            model.enable_input_require_grads()
    if hasattr(model, "config"):
        model.config.use_cache = False
    info["num_trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info["num_params"] = sum(p.numel() for p in model.parameters())
    return model, tokenizer, info
