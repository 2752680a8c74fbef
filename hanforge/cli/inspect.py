"""``hanforge inspect PATH``: print a Polars summary of a shard folder."""

from __future__ import annotations

import argparse

from hanforge.shards.inspect import inspect_shards


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="summarize a shard folder with Polars", description=inspect_command.__doc__)
    p.add_argument("path", help="a run's output folder, a shards/ or excluded/ folder, or one .parquet file")
    p.set_defaults(func=inspect_command)


def inspect_command(args: argparse.Namespace) -> int:
    """Print rows, schema, drop reasons and Hangul-ratio/length histograms of text shards."""
    print(inspect_shards(args.path))
    return 0
