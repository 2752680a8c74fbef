"""``hanforge plan``: training time and cost from measured throughput; --calibrate measures it here."""

from __future__ import annotations

import argparse
import re

from hanforge.cli._options import add_verb, given_options

#: The line ``hanforge --help`` shows for this verb.
HELP = "time and cost of a training recipe from measured throughput (--calibrate N measures this machine)"


def _tokens(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBtT]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: a number such as 2e9, 500M, 1.5T")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[m.group(2).lower()]


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "plan", plan_command, help=HELP)
    p.add_argument("--stage", choices=["cpt", "sft", "dpo"], default="cpt")
    p.add_argument("--params", type=float, help="model size in billions of parameters (e.g. 7.6)")
    p.add_argument("--tokens", type=_tokens, help="training tokens (2e9, 500M, 1T)")
    p.add_argument("--gpu", default="H200", help="GPU kind as in the throughput table (default H200)")
    p.add_argument("--gpus", type=int, default=1, help="number of GPUs")
    p.add_argument("--price", type=float, default=0.0, help="price per GPU-hour")
    p.add_argument("--finetuning", choices=["lora", "full"], default="lora")
    p.add_argument("--backend", choices=["unsloth", "transformers"], help="only rows of this backend")
    p.add_argument("--table", help="user throughput table (default ~/.cache/hanforge/throughput.json)")
    p.add_argument("--list", action="store_true", help="print the measured rows and exit")
    p.add_argument("--calibrate", type=int, metavar="N", help="measure N training steps of --config here")
    p.add_argument("--config", help="train.toml for --calibrate")


def plan_command(args: argparse.Namespace) -> int:
    """Estimate training time and cost from measured tokens/s (shipped H200 figures from
    bench/train_gpu.py plus your own calibrations). Every extrapolation (model size, GPU count,
    memory) is printed under the estimate.

    Examples:  hanforge plan --params 7.6 --tokens 2e9 --gpu H200 --price 3.5
               hanforge plan --calibrate 20 --config examples/train-cpt.toml
               hanforge plan --list
    """
    from pathlib import Path

    from hanforge.errors import ConfigError
    from hanforge.plan import estimate, format_plan, load_table

    table = Path(args.table) if args.table else None
    if args.calibrate is not None:
        from hanforge.plan.calibrate import calibrate, format_calibration

        if not args.config:
            raise ConfigError("--calibrate needs --config train.toml")
        row, path = calibrate(args.config, steps=args.calibrate, table=table)
        print(f"hanforge plan: {format_calibration(row, path)}")
        return 0
    rows = load_table(table)
    if args.list:
        for r in rows:
            print(
                f"{r.id:<36} {r.gpu:<6} {r.stage:<4} {r.shape:<14} {r.backend:<12} "
                f"{r.tokens_per_s:>10,.0f} tokens/s  {r.peak_memory_gb:>6.1f} GB  {r.date}"
            )
        return 0
    if args.params is None or args.tokens is None:
        raise ConfigError("give --params (billions) and --tokens, or --list, or --calibrate N --config ...")
    recipe = given_options(
        args, "stage", "tokens", "gpu", "finetuning", "backend", num_params_b="params", num_gpus="gpus"
    )
    plan = estimate(rows, price_per_gpu_hour=args.price, **recipe)
    print(format_plan(plan))
    return 0
