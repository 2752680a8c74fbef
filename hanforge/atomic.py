"""Crash-safe file creation: write under a temporary name, rename when complete.

A killed process leaves at most a ``*.tmp-*`` file behind, never a file under its final name
that looks complete but is not. Works on local paths; rename is atomic within one filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARKER = ".tmp-"


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it to ``final`` if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}{TMP_MARKER}{os.getpid()}")
    try:
        yield tmp
        if tmp.exists():
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(final: str | Path, data: bytes) -> None:
    """Write ``data`` to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(final: str | Path, obj: Any) -> None:
    """Write ``obj`` as sorted, indented UTF-8 JSON atomically (byte-stable for equal objects)."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(final, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete ``*.tmp-*`` leftovers of killed runs below ``folder``; return how many."""
    folder = Path(folder)
    if not folder.exists():
        return 0
    stale = [p for p in folder.rglob(f"*{TMP_MARKER}*") if p.is_file()]
    for p in stale:
        p.unlink()
    return len(stale)
