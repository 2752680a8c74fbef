"""``hanforge tokenize``: Parquet text shards → packed Arrow IPC token shards.

Thin wrapper over :func:`hanforge.tokenizer.tokenize_job.tokenize_shards`; see docs/token-shards.md.
"""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_inputs, add_output, add_overwrite, add_progress, add_verb, add_workers


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
    from hanforge.tokenizer.tokenize_job import summarize, tokenize_shards

    def on_skipped(done: int, total: int) -> None:
        print(f"resumed: {done} of {total} input shards were already tokenized and are reused")

    def on_reused(count: int, total: int) -> None:
        print(f"{count} of {total} input shards not tokenized again: their token ids come from hanforge mix")

    manifest = tokenize_shards(
        inputs=args.inputs,
        tokenizer=args.tokenizer,
        seq_len=args.seq_len,
        output=args.output,
        rows_per_shard=args.rows_per_shard,
        shuffle_seed=None if args.no_shuffle else args.seed,
        num_workers=args.workers,
        batch_size=args.batch_size,
        eos_token=args.eos_token,
        text_column=args.text_column,
        overwrite=args.overwrite,
        keep_work=args.keep_work,
        progress=not args.no_progress,
        on_skipped=on_skipped,
        on_reused=on_reused,
    )
    print(summarize(manifest))
    print(f"wrote {args.output}/manifest.json")
    return 0


def register(subparsers) -> None:
    p = add_verb(subparsers, "tokenize", tokenize_command, help="tokenize text shards into packed Arrow token shards")
    add_inputs(p, "text shard folders (or Parquet files)")
    p.add_argument("--tokenizer", required=True, metavar="PATH", help="HF tokenizer folder or tokenizer.json")
    p.add_argument("--seq-len", type=int, required=True, metavar="N", help="tokens per packed row")
    add_output(p, "token-shard folder")
    p.add_argument("--rows-per-shard", type=int, default=8192, metavar="N", help="rows per token-shard file")
    p.add_argument("--seed", type=int, default=0, help="seed of the global document shuffle")
    p.add_argument("--no-shuffle", action="store_true", help="keep documents in input order")
    add_workers(p)
    p.add_argument("--batch-size", type=int, default=1024, metavar="N", help="documents per encode_batch call")
    p.add_argument("--eos-token", default=None, help="EOS token if tokenizer_config.json names none")
    p.add_argument("--text-column", default="text", help="column holding the text")
    add_overwrite(p)
    p.add_argument("--keep-work", action="store_true", help="keep _work/ (per-input token ids) afterwards")
    add_progress(p)
