"""``hanforge inspect PATH``: print a Polars summary of a text-shard or token-shard folder."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "inspect", inspect_command, help="summarize a text-shard or token-shard folder with Polars")
    p.add_argument(
        "path",
        metavar="INPUT",
        help="a run's output folder, a shards/ or excluded/ folder, one .parquet file, or a token-shard "
        "folder (hanforge tokenize output)",
    )


def inspect_command(args: argparse.Namespace) -> int:
    """Print a summary of shards: for text shards rows, schema, drop reasons and Hangul-ratio/length
    histograms; for token shards the manifest's counts and the Arrow schema.

    Examples:  hanforge inspect output/korean-web
               hanforge inspect output/walkthrough/tokens
    """
    from hanforge.shards.inspect import inspect_shards

    print(inspect_shards(args.path))
    return 0
