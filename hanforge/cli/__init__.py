"""``hanforge <verb>``: a thin command line over plain functions.

Each module in this package defines one verb with ``register(subparsers)``, which adds its
parser (see :mod:`hanforge.cli._options` for the shared options and help layout) and sets
``func`` to a callable taking the parsed namespace and returning an exit code. Verbs are
discovered, so adding a verb means adding a module (modules starting with ``_`` are helpers).

Exit codes: 0 done, 2 a user mistake (one line on stderr naming the bad thing, no traceback),
130 interrupted with Ctrl-C (one line; rerunning the same command resumes).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from hanforge import __version__
from hanforge.errors import HanforgeError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit code 2) pointing at ``--help``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
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
    verb = " ".join(filter(None, [args.verb, getattr(args, "action", None)]))
    try:
        return int(args.func(args) or 0)
    except HanforgeError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message
        print(f"hanforge {verb}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hanforge {verb}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
