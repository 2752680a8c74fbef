"""``hanforge init``: write a commented pipelines.toml to start from (the packaged default)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hanforge.cli._options import add_verb
from hanforge.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "init", init_command, help="write a commented pipelines.toml to start from")
    p.add_argument("path", nargs="?", default="pipelines.toml", metavar="FILE", help="where to write it")


def init_command(args: argparse.Namespace) -> int:
    """Write the default pipelines (every key documented, shown with its default value) to FILE.

    An existing file is never replaced. Edit the copy, then: hanforge run --config FILE
    (./pipelines.toml is read without --config).

    Example:  hanforge init && hanforge run --list
    """
    from hanforge.corpus.pipeline import PACKAGED_CONFIG

    path = Path(args.path)
    if path.exists():
        raise InputError(f"{path} already exists; hanforge init never replaces a file (pick another path)")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: folder does not exist")
    with path.open("xb") as fh:  # "x": fails rather than replace a file created meanwhile
        fh.write(PACKAGED_CONFIG.read_bytes())
    print(
        f"wrote {path}: the default pipelines, every key documented; run them with hanforge run"
        + ("" if path.name == "pipelines.toml" and path.parent.resolve() == Path.cwd() else f" --config {path}")
    )
    return 0
