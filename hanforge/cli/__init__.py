"""``hanforge <verb>``: a thin command line over plain functions.

Each module in this package defines one verb with ``register(subparsers)``, which adds its
parser and sets ``func`` to a callable taking the parsed namespace and returning an exit code.
Verbs are discovered, so adding a verb means adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from hanforge import __version__
from hanforge.errors import HanforgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanforge",
        description="Build Korean LLM corpora, token shards and models, the data-centric way.",
    )
    parser.add_argument("--version", action="version", version=f"hanforge {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HanforgeError as exc:
        print(f"hanforge {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
