"""``hanforge mix``: sample text-shard sources to target ratios under a budget ([mix] section).

Thin wrapper over :func:`hanforge.corpus.mix.mix_sources`.
"""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_config, add_output, add_overwrite, add_verb, given_options


def mix_command(args: argparse.Namespace) -> int:
    """Mix the sources of the [mix] section of the config; print planned vs achieved per source.

    Without --config: ./pipelines.toml, else the pipelines shipped with hanforge (their [mix]
    reads the walkthrough's outputs, see examples/walkthrough.sh).

    Example:  hanforge mix --config pipelines.toml --total 2000000000
    """
    from hanforge.console import format_mix_report
    from hanforge.corpus.mix import load_mix_config, mix_sources
    from hanforge.corpus.pipeline import default_config_path

    config = load_mix_config(args.config or default_config_path()).merge(given_options(args, "total", "output", "seed"))
    manifest = mix_sources(config, overwrite=args.overwrite)
    print(format_mix_report(manifest))
    print(f"wrote {config.output}/shards/ ({len(manifest['shards'])} shard(s)) and manifest.json")
    return 0


def register(subparsers) -> None:
    p = add_verb(subparsers, "mix", mix_command, help="mix text-shard sources to target ratios under a token budget")
    add_config(p, "TOML file with a [mix] section (default: ./pipelines.toml, else the packaged one)")
    p.add_argument("--total", type=int, default=None, help="budget (default: mix.total)")
    add_output(p, "output folder (default: mix.output)", required=False)
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: mix.seed)")
    add_overwrite(p)
