"""``hanforge mix``: sample text-shard sources to target ratios under a budget ([mix] section).

Thin wrapper over :func:`hanforge.corpus.mix.mix_sources`.
"""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Mix the sources of the [mix] section of CONFIG; print planned vs achieved per source.

    Example:  hanforge mix pipelines.toml --total 2000000000
    """
    from hanforge.corpus.mix import format_mix_report, load_mix_config, mix_sources

    config = load_mix_config(args.config)
    if args.total is not None:
        config.total = args.total
    if args.output is not None:
        config.output = args.output
    if args.seed is not None:
        config.seed = args.seed
    manifest = mix_sources(config, overwrite=args.overwrite)
    print(format_mix_report(manifest))
    print(f"wrote {config.output}/shards/ ({len(manifest['shards'])} shard(s)) and manifest.json")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("mix", help="mix text-shard sources to target ratios under a token budget",
                              description=run.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", nargs="?", default="pipelines.toml", help="TOML file with a [mix] section")
    p.add_argument("--total", type=int, default=None, help="override mix.total")
    p.add_argument("--output", default=None, help="override mix.output")
    p.add_argument("--seed", type=int, default=None, help="override mix.seed")
    p.add_argument("--overwrite", action="store_true", help="replace a mix of other inputs or config")
    p.set_defaults(func=run)
