"""``hanforge train``: continued pretraining, SFT, DPO or GRPO from a train.toml (Unsloth on GPU)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hanforge.cli._options import add_config, add_output, add_overwrite, add_progress, add_verb
from hanforge.errors import ConfigError, TrainingError

#: What a training run writes in its folder (the files --overwrite may delete).
TRAIN_RUN_OWNS = (
    "checkpoints/**",
    "adapter/**",
    "merged/**",
    "tensorboard/**",
    "data/**",
    "metrics.jsonl",
    "summary.json",
    "train_config.json",
)


#: The line ``hanforge --help`` shows for this verb.
HELP = "train a model: --stage cpt | sft | dpo | grpo (Unsloth on GPU, transformers+peft on CPU)"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "train", train_command, help=HELP)
    add_config(p, "train.toml (see docs/training.md and examples/train-*.toml)", required=True)
    p.add_argument("--stage", choices=["cpt", "sft", "dpo", "grpo"], help="stage (default: stage = ... in the config)")
    p.add_argument(
        "--backend",
        choices=["auto", "unsloth", "transformers"],
        default="auto",
        help="auto = unsloth on a CUDA GPU when installed, else transformers + peft",
    )
    add_output(p, "run folder (default: output in the config)", required=False)
    p.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps (default: run.max_steps)")
    p.add_argument(
        "--steps-this-run", type=int, metavar="N", help="stop with a checkpoint after this many steps; rerun resumes"
    )
    add_overwrite(p)
    add_progress(p)
    p.add_argument(
        "--calibrate",
        type=int,
        metavar="N",
        help="measure N steps of this config here (scratch folder, nothing kept) and add the tokens/s "
        "to the throughput table hanforge plan reads",
    )
    p.add_argument(
        "--table", metavar="FILE", help="throughput table for --calibrate (default ~/.cache/hanforge/throughput.json)"
    )


def check_local_paths(config) -> None:
    """Fail at once, naming the path, when a model or tokenizer folder does not exist (hanforge
    never downloads from the Hub, so transformers must not go looking there either)."""
    paths = {"model.path": config.model.path, "model.tokenizer": config.model.tokenizer}
    if config.vocab is not None:
        paths |= {"vocab.added_tokens": config.vocab.added_tokens, "vocab.old_tokenizer": config.vocab.old_tokenizer}
    for key, value in paths.items():
        if value and not Path(value).exists():
            raise TrainingError(
                f"{key}: {value} does not exist (give a local folder; hanforge never downloads models from the Hub)"
            )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: no retries against the Hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def train_command(args: argparse.Namespace) -> int:
    """Train a model on transformers' Trainer or TRL's trainers (stage cpt, sft, dpo or grpo).

    cpt reads token shards (hanforge tokenize) directly; sft reads JSONL/Parquet instructions
    (Korean Alpaca or chat template, loss on responses only); dpo reads prompt/chosen/rejected;
    grpo reads prompts and scores sampled completions with [grpo] rewards (module:function).
    Data parallel: torchrun --nproc_per_node N -m hanforge.cli train ... (each rank reads its rows).
    The first line printed says which backend runs (unsloth on a CUDA GPU, else transformers +
    peft, with what to install for the fast path). Rerunning the same command resumes from the
    newest checkpoint in the output folder. Writes metrics.jsonl, tensorboard/, checkpoints/,
    adapter/, merged/ (16-bit safetensors for plain transformers) and summary.json.
    Needs the train extra: pip install 'hanforge[train]' (CPU-only machines: first
    pip install torch --index-url https://download.pytorch.org/whl/cpu).

    --calibrate N trains N steps of the config in a scratch folder instead (no checkpoint, no
    export, --output untouched), and adds the measured tokens/s with this machine's GPU (or CPU)
    name to the table that `hanforge plan` estimates from (same code as plan --calibrate).

    Example:  hanforge train --stage cpt --config examples/train-cpt.toml
              hanforge train --stage sft --config examples/train-sft.toml --calibrate 20
    """
    if args.calibrate is not None:
        return calibrate_command(args)
    if args.table:
        raise ConfigError("--table is where --calibrate N adds its measurement: give --calibrate N too")
    from hanforge.extras import TRAIN_PACKAGES, require_torch
    from hanforge.train.config import load_train_config

    overrides: dict = {}
    if args.output:
        overrides["output"] = args.output
    if args.max_steps is not None:
        overrides["run"] = {"max_steps": args.max_steps}
    config = load_train_config(args.config, overrides=overrides)
    check_local_paths(config)
    require_torch("hanforge train", packages=TRAIN_PACKAGES)
    from hanforge.output import JobOutput
    from hanforge.train.checkpoint import resume_fingerprint
    from hanforge.train.trainer import train

    # the run folder: one writer at a time; --overwrite replaces only what an earlier run wrote
    job = JobOutput(
        config.output,
        what="training run",
        marker={"resume_fingerprint": resume_fingerprint(config)},
        owns=TRAIN_RUN_OWNS,
    )
    with job:
        job.claim(overwrite=args.overwrite)
        summary = train(
            config,
            stage=args.stage,
            backend=args.backend,
            max_steps_this_run=args.steps_this_run,
            progress=not args.no_progress,
        )
        if summary.completed:
            job.finish()
    print(format_summary(summary))
    return 0


def calibrate_command(args: argparse.Namespace) -> int:
    """``hanforge train --calibrate N``: :func:`hanforge.plan.calibrate.calibrate` on this config."""
    from hanforge.extras import TRAIN_PACKAGES, require_torch
    from hanforge.plan.calibrate import calibrate, format_calibration
    from hanforge.train.config import load_train_config

    clash = [
        o for o, v in (("--max-steps", args.max_steps), ("--steps-this-run", args.steps_this_run)) if v is not None
    ]
    clash += ["--output"] if args.output else []
    if clash:
        raise ConfigError(f"--calibrate {args.calibrate} trains N steps in a scratch folder: drop {', '.join(clash)}")
    check_local_paths(load_train_config(args.config))
    require_torch("hanforge train --calibrate", packages=TRAIN_PACKAGES)
    command = f"hanforge train --calibrate {args.calibrate} --config {args.config}"
    command += f" --stage {args.stage}" if args.stage else ""
    row, path = calibrate(
        args.config,
        steps=args.calibrate,
        stage=args.stage,
        backend=args.backend,
        table=Path(args.table) if args.table else None,
        command=command,
        log=(lambda _: None) if args.no_progress else print,
    )
    print(f"hanforge train: {format_calibration(row, path)}")
    return 0


def format_summary(summary) -> str:
    """A few readable lines about a finished (or paused) run."""
    state = "completed" if summary.completed else f"paused at step {summary.steps} (rerun to resume)"
    lines = [
        f"hanforge train {summary.stage}: {state} on {summary.backend}",
        f"  steps {summary.steps}/{summary.total_steps}"
        + (f" (resumed from {summary.resumed_from})" if summary.resumed_from else ""),
        f"  loss {summary.first_loss:.4f} -> {summary.last_loss:.4f}"
        if summary.first_loss is not None
        else "  no steps run",
        f"  {summary.num_tokens:,} tokens in {summary.seconds:.1f} s ({summary.tokens_per_s:,.0f} tokens/s), "
        f"peak memory {summary.peak_memory_gb:.2f} GB",
        f"  trainable parameters {summary.model_info.get('num_trainable_params', 0):,} "
        f"of {summary.model_info.get('num_params', 0):,}",
    ]
    for kind, folder in summary.exported.items():
        lines.append(f"  {kind}: {folder}")
    lines.append(f"  metrics: {summary.output}/metrics.jsonl, summary: {summary.output}/summary.json")
    return "\n".join(lines)
