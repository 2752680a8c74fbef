"""The options every verb spells the same way, and the help formatter they share.

One convention (after litgpt's and datatrove's tools): inputs are positional (``INPUT...``), a
config file is ``--config FILE``, the output folder is ``--output DIR``, and ``--overwrite``,
``--workers``, ``--no-progress`` and ``--verbose`` mean the same in every verb. ``--help`` is
the command function's docstring plus every option with its default.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the docstring's layout and appends ``(default: X)`` to options that have one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            default not in (None, False, argparse.SUPPRESS, [], "")
            and "%(default)" not in text
            and (action.option_strings or action.nargs in ("?", "*"))
        ):
            text += " (default: %(default)s)"
        return text


def add_verb(sub: argparse._SubParsersAction, name: str, func: Callable, *, help: str) -> argparse.ArgumentParser:
    """A verb's parser: ``--help`` shows ``func.__doc__`` and the defaults; ``func`` runs it."""
    p = sub.add_parser(name, help=help, description=inspect.cleandoc(func.__doc__ or ""), formatter_class=HelpFormatter)
    p.set_defaults(func=func)
    return p


def add_inputs(p: argparse.ArgumentParser, help: str, *, required: bool = True) -> None:
    p.add_argument("inputs", nargs="+" if required else "*", metavar="INPUT", help=help)


def add_output(p: argparse.ArgumentParser, help: str = "output folder", *, required: bool = True) -> None:
    p.add_argument("--output", required=required, metavar="DIR", help=help)


def add_config(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    p.add_argument("--config", required=required, metavar="FILE", help=help)


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier output of other inputs or config (only files hanforge wrote are deleted, never yours)",
    )


def add_workers(p: argparse.ArgumentParser, default: int | None = 1) -> None:
    p.add_argument("--workers", type=int, default=default, metavar="N", help="processes running at once")


def add_progress(p: argparse.ArgumentParser, *, verbose: bool = False) -> None:
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    if verbose:
        p.add_argument(
            "--verbose",
            action="store_true",
            help="show the task logs on the console (default: they go to <output>/logs/console.log)",
        )


def add_job_options(p: argparse.ArgumentParser, *, workers: int | None = 1, verbose: bool = False) -> None:
    """``--workers``, ``--overwrite``, ``--no-progress`` (and ``--verbose``): every job writing an output folder."""
    add_workers(p, default=workers)
    add_overwrite(p)
    add_progress(p, verbose=verbose)


def given_options(args: argparse.Namespace, *names: str, **renamed: str) -> dict[str, Any]:
    """The config overrides a user gave: ``{key: value}`` of the options in ``names`` (and of
    ``renamed``, config key = option name) that are not None, for ``ConfigBase.merge``."""
    pairs = [(name, name) for name in names] + list(renamed.items())
    return {key: getattr(args, option) for key, option in pairs if getattr(args, option) is not None}
