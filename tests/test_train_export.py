"""Export: the LoRA adapter loads with peft, the merged 16-bit/32-bit safetensors load with plain
transformers and give the adapter model's logits."""

from __future__ import annotations

import pytest
import torch
from train_helpers import (
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.train.backend import load_tokenizer_for_training
from hanforge.train.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("export")
    tok, shards = build_tokenizer_and_shards(root, sample_html_files)
    model = build_tiny_model(root / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    runs = {}
    for dtype in ("float32", "bfloat16"):
        config = tiny_config(
            output=root / f"run-{dtype}",
            model_dir=model,
            tokenizer=tok,
            stage="sft",
            run={"batch_size": 4, "max_steps": 6},
            lora={"train_embeddings": True},
            export={"adapter": True, "merged": True, "merged_dtype": dtype},
        )
        runs[dtype] = train(config, progress=False)
    return {"model": model, "tok": tok, "runs": runs}


def _adapter_logits(trained, ids):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(trained["model"], dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, trained["runs"]["float32"].exported["adapter"]).eval()
    with torch.no_grad():
        return adapted(input_ids=ids).logits


def test_merged_weights_give_the_adapter_logits(trained):
    from transformers import AutoModelForCausalLM

    run = trained["runs"]["float32"]
    assert set(run.exported) == {"adapter", "merged"}
    tok = load_tokenizer_for_training(run.exported["merged"])  # the tokenizer travels with the weights
    ids = torch.tensor([tok("### 지시사항:\n한국의 수도는 어디인가요?\n\n### 응답:\n")["input_ids"]])
    merged = AutoModelForCausalLM.from_pretrained(run.exported["merged"]).eval()
    with torch.no_grad():
        merged_logits = merged(input_ids=ids).logits
    adapter_logits = _adapter_logits(trained, ids)
    torch.testing.assert_close(merged_logits, adapter_logits, rtol=1e-5, atol=1e-5)
    base = AutoModelForCausalLM.from_pretrained(trained["model"]).eval()
    with torch.no_grad():
        assert not torch.allclose(base(input_ids=ids).logits, adapter_logits, atol=1e-3)  # training changed it


def test_merged_bfloat16_safetensors(trained):
    from pathlib import Path

    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    folder = Path(trained["runs"]["bfloat16"].exported["merged"])
    files = list(folder.glob("*.safetensors"))
    assert files and not (folder / "adapter_config.json").exists()
    with safe_open(str(files[0]), "pt") as fh:
        assert {fh.get_tensor(k).dtype for k in fh.keys()} == {torch.bfloat16}  # noqa: SIM118 - safetensors handles have keys(), not iteration
    merged = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 5, 9, 200, 33, 7]])
    with torch.no_grad():
        logits = merged(input_ids=ids).logits
    assert torch.isfinite(logits).all() and not any(folder.parent.glob("merged.tmp-*"))
    # same training as the float32 run: the bf16 weights give its logits up to bf16 rounding
    torch.testing.assert_close(logits, _adapter_logits(trained, ids), rtol=0.05, atol=0.02)
