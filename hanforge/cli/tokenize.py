"""``hanforge tokenize``: Parquet text shards → packed Arrow IPC token shards.

Thin wrapper over :func:`hanforge.tokenizer.tokenize_job.tokenize_shards`; see docs/token-shards.md.
"""

from __future__ import annotations

import argparse
import functools

from hanforge.cli._cluster import add_executor, executor_options
from hanforge.cli._options import add_config, add_inputs, add_job_options, add_output, add_verb, given_options


def tokenize_command(args: argparse.Namespace) -> int:
    """Tokenize Parquet text shards and pack them into Arrow IPC token shards.

    Documents are tokenized with the fast Hugging Face tokenizer (multi-threaded; for SentencePiece-
    layout BPEs each distinct word of a batch is encoded once, same ids as encode_batch_fast),
    shuffled globally with --seed (or kept in order with --no-shuffle), joined with EOS and cut into
    rows of --seq-len tokens. Writes DIR/tokens-NNNNN.arrow and DIR/manifest.json (docs/token-shards.md).
    Reruns resume: tokenized inputs and finished shards are reused. Shards of a `hanforge mix` made
    with the same tokenizer are not tokenized again: their ids come from the mix's token-ids/.

    Example:  hanforge tokenize out/mix --tokenizer out/tok --seq-len 4096 --output out/tokens
    """
    from hanforge.config import read_toml
    from hanforge.console import format_token_summary
    from hanforge.errors import ConfigError
    from hanforge.output import SUBMITTED
    from hanforge.tokenizer.tokenize_config import TokenizeConfig
    from hanforge.tokenizer.tokenize_job import tokenize_shards

    section = read_toml(args.config).get("tokenize", {}) if args.config else {}
    if args.seq_len is None and "seq_len" not in section:
        raise ConfigError("--seq-len: required (or seq_len in the [tokenize] section of --config)")
    overrides = given_options(
        args, "seq_len", "rows_per_shard", "batch_size", "eos_token", "text_column", num_workers="workers"
    )
    if args.seed is not None:
        overrides["shuffle_seed"] = args.seed
    if args.no_shuffle:
        overrides["shuffle_seed"] = None
    config = TokenizeConfig.from_table(section, where="tokenize").merge(overrides)

    def on_skipped(done: int, total: int) -> None:
        print(f"resumed: {done} of {total} input shards were already tokenized and are reused")

    def on_reused(count: int, total: int) -> None:
        print(f"{count} of {total} input shards not tokenized again: their token ids come from hanforge mix")

    if args.executor != "local":
        from hanforge.corpus.tokenize_tasks import tokenize_on_cluster

        run = functools.partial(
            tokenize_on_cluster,
            executor=args.executor,
            executor_options=executor_options(args),
            workers=config.num_workers,
        )
    else:
        run = tokenize_shards
    manifest = run(
        inputs=args.inputs,
        tokenizer=args.tokenizer,
        output=args.output,
        config=config,
        overwrite=args.overwrite,
        keep_work=args.keep_work,
        progress=not args.no_progress,
        on_skipped=on_skipped,
        on_reused=on_reused,
    )
    if manifest.get("state") == SUBMITTED:
        print(f"submitted to Slurm: one task per input shard, then a packing job that writes {args.output}")
        return 0
    print(format_token_summary(manifest))
    print(f"wrote {args.output}/manifest.json")
    return 0


def register(subparsers) -> None:
    from hanforge.tokenizer.tokenize_config import TokenizeConfig

    d = TokenizeConfig()
    p = add_verb(subparsers, "tokenize", tokenize_command, help="tokenize text shards into packed Arrow token shards")
    add_inputs(p, "text shard folders (or Parquet files)")
    p.add_argument("--tokenizer", required=True, metavar="PATH", help="HF tokenizer folder or tokenizer.json")
    add_config(
        p,
        "pipelines.toml whose [tokenize] section sets the defaults of the options below "
        "(and whose pipeline's [ray]/[slurm] table configures --executor)",
    )
    p.add_argument("--seq-len", type=int, metavar="N", help="tokens per packed row (required unless in --config)")
    add_output(p, "token-shard folder")
    p.add_argument(
        "--rows-per-shard", type=int, metavar="N", help=f"rows per token-shard file (default: {d.rows_per_shard})"
    )
    p.add_argument("--seed", type=int, help=f"seed of the global document shuffle (default: {d.shuffle_seed})")
    p.add_argument("--no-shuffle", action="store_true", help="keep documents in input order")
    add_job_options(p, workers=None)
    p.add_argument(
        "--batch-size", type=int, metavar="N", help=f"documents per encode_batch call (default: {d.batch_size})"
    )
    p.add_argument("--eos-token", help="EOS token if tokenizer_config.json names none")
    p.add_argument("--text-column", help=f"column holding the text (default: {d.text_column})")
    p.add_argument("--keep-work", action="store_true", help="keep _work/ (per-input token ids) afterwards")
    add_executor(p)
