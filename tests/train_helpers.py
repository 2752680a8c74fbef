"""Builders for the training tests: a tiny tokenizer and token shards from the embedded sample,
a tiny random-init Qwen2 model saved from a config, and a TrainConfig for it (no hub downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eval_helpers import tiny_qwen2
from token_helpers import sample_texts, train_tiny_tokenizer, write_text_shards

from hanforge.train.config import TrainConfig

SAMPLE_INSTRUCT = Path(__file__).resolve().parents[1] / "hanforge" / "sample" / "instruct"
SEQ_LEN = 64


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Torch on one thread for a test module: the CI box is small and shared; 1 thread is many
    times faster there. Import it into a test module to use it (autouse)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build_tokenizer_and_shards(root: Path, html_files: list[Path], *, seq_len: int = SEQ_LEN) -> tuple[Path, Path]:
    """Tokenizer folder and a token-shard folder made with the project's own functions."""
    from hanforge.tokenizer.tokenize_job import tokenize_shards

    texts = write_text_shards(root / "text", sample_texts(html_files))
    tok = train_tiny_tokenizer(texts, root / "tok", vocab_size=2000)
    tokenize_shards(inputs=[texts], tokenizer=tok, seq_len=seq_len, output=root / "tokens", progress=False)
    return tok, root / "tokens"


def build_tiny_model(folder: Path, *, vocab_size: int, seed: int = 0, tie: bool = True) -> Path:
    """A random-init 2-layer Qwen2 (hidden 64) saved as safetensors."""
    tiny_qwen2(vocab_size, seed=seed, hidden_size=64, tie=tie).save_pretrained(folder)
    return folder


def tiny_config(*, output: Path, model_dir: Path, tokenizer: Path, stage: str, **sections: Any) -> TrainConfig:
    """A TrainConfig for the tiny model (sections given as dicts update the defaults)."""
    table: dict[str, Any] = {
        "output": str(output),
        "stage": stage,
        "seed": 7,
        "model": {
            "path": str(model_dir),
            "tokenizer": str(tokenizer),
            "dtype": "float32",
            "gradient_checkpointing": False,
            "max_seq_length": 256,
        },
        "lora": {
            "rank": 8,
            "alpha": 16.0,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        },
        "optim": {"learning_rate": 3e-3, "warmup_steps": 2, "schedule": "cosine"},
        "data": {
            "token_shards": "",
            "instructions": str(SAMPLE_INSTRUCT / "sft-ko.jsonl"),
            "preferences": str(SAMPLE_INSTRUCT / "dpo-ko.jsonl"),
            "max_length": 128,
        },
        "run": {"batch_size": 8, "max_steps": 30, "log_every": 1, "tensorboard": False},
        "export": {"adapter": False, "merged": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            table[key] = {**table.get(key, {}), **value}
        else:
            table[key] = value
    return TrainConfig.from_table(table, where="test")
