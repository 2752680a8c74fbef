"""``hanforge eval``: bits/char on held-out text, Korean harness tasks, token efficiency."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb

#: The line ``hanforge --help`` shows for this verb.
HELP = "evaluate a causal LM: bits/char, Korean benchmarks (lm-eval), token efficiency"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "eval", eval_command, help=HELP)
    p.add_argument("--model", required=True, help="Hugging Face model folder, or a .gguf file")
    p.add_argument("--gguf-file", help="GGUF file name inside --model (a folder)")
    p.add_argument(
        "--text",
        nargs="+",
        default=[],
        metavar="NAME=PATH",
        help="held-out text: text-shard folders, Parquet or .txt files (bits/char per set)",
    )
    p.add_argument("--max-chars", type=int, default=0, help="score at most this many characters per set (0 = all)")
    p.add_argument("--window", type=int, default=1024, help="tokens per scoring window")
    p.add_argument("--stride", type=int, default=512, help="tokens the window moves by")
    p.add_argument(
        "--tasks",
        nargs="+",
        default=[],
        metavar="TASK",
        help="lm-evaluation-harness tasks or groups by name (online: loads from the hub)",
    )
    p.add_argument(
        "--task-data",
        nargs="+",
        default=[],
        metavar="TASK=PATH",
        help="offline: run TASK (or group) over local JSON/JSONL/Parquet/CSV files",
    )
    p.add_argument("--num-fewshot", type=int, default=None, help="few-shot examples (default: the task's)")
    p.add_argument("--limit", type=float, default=None, help="examples per task (or a fraction < 1)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--output", default="eval-out", help="folder for eval.json, eval.md and harness task files")


def eval_command(args: argparse.Namespace) -> int:
    """Evaluate a causal LM on Korean text and benchmarks; write eval.json and eval.md.

    bits/char: sum of -log2 p over every token of the text, divided by its characters
    (tokenizer-independent; sliding --window with --stride). Harness tasks run through
    lm-evaluation-harness with its own prompts and metrics; --task-data points a task at local
    files (a generated YAML includes the harness's template). Token efficiency (chars/token,
    byte fallback) is measured with the model's tokenizer on the --text sets.

    Examples:
      hanforge eval --model out/merged --text lo=heldout-lo debian=heldout-debian
      hanforge eval --model models/gemma --tasks kobest haerae --num-fewshot 5
      hanforge eval --model out/merged --task-data kmmlu=data/KMMLU/data --limit 50
    """
    from hanforge.atomic import atomic_write_json
    from hanforge.eval.report import evaluate_model, format_eval_report, parse_named

    same_names = ("gguf_file", "max_chars", "window", "stride", "batch_size", "tasks", "num_fewshot", "seed", "limit")
    report = evaluate_model(
        model_path=args.model,
        texts=parse_named(args.text, what="--text"),
        task_data=parse_named(args.task_data, what="--task-data"),
        work_dir=args.output,
        **{name: getattr(args, name) for name in (*same_names, "device", "dtype")},
    )
    from pathlib import Path

    text = format_eval_report(report)
    atomic_write_json(Path(args.output) / "eval.json", report)
    (Path(args.output) / "eval.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {args.output}/eval.json, {args.output}/eval.md")
    return 0
