"""Input discovery: paths and folders (local or fsspec URLs) -> a sorted list of input files.

Folders are expanded recursively and sorted by relative path, so the list (and every task's
share of it) is deterministic. Files inside a folder whose type is unknown are *not* skipped
silently: they come back with ``kind = "unsupported"`` and the reader turns each into a dropped
``unsupported_file`` document. A missing path, an empty folder or an explicitly named file of
unknown type raises :class:`~hanforge.errors.InputError`.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Literal

from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from hanforge.errors import InputError

InputKind = Literal["warc", "html", "jsonl", "parquet", "text", "unsupported", "special"]

#: File name endings (lower case) and the reader that handles them; longest match wins.
SUFFIX_KINDS: dict[str, InputKind] = {
    ".warc": "warc",
    ".warc.gz": "warc",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".jsonl.zst": "jsonl",
    ".parquet": "parquet",
    ".txt": "text",
}


@dataclass(frozen=True)
class InputFile:
    """One input file.

    path: where to open it (a local path, or an fsspec URL such as ``s3://bucket/key``).
    kind: which reader handles it (``unsupported``: an unknown type; ``special``: a FIFO,
        socket or device found in a folder, never opened; both reported as a dropped document).
    source: the ``source`` column of its documents.
    relpath: its path relative to the input argument that named it (the file name for a file
        argument); document ids derive from it, so they do not depend on where the data lives.
    """

    path: str
    kind: InputKind
    source: str
    relpath: str


def kind_of(name: str) -> InputKind | None:
    """The reader kind for a file name, or None if its ending is not supported."""
    lower = name.lower()
    for suffix in sorted(SUFFIX_KINDS, key=len, reverse=True):
        if lower.endswith(suffix):
            return SUFFIX_KINDS[suffix]
    return None


def file_stem(name: str) -> str:
    """A file name without its supported ending (``crawl-01.warc.gz`` -> ``crawl-01``)."""
    lower = name.lower()
    for suffix in sorted(SUFFIX_KINDS, key=len, reverse=True):
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


def _location(fs, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def _local_files(root: str, *, exclude: list[str]) -> list[tuple[str, bool]]:
    """``(path, is_regular_file)`` under a local folder, following symlinked folders (each real
    folder once, so a link cycle ends) and leaving out the ``exclude`` folders (an output
    folder inside the input). FIFOs, sockets and devices are listed, never opened."""
    found: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen or any(real == x or real.startswith(x + os.sep) for x in exclude):
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders.sort()
        for name in names:
            path = os.path.join(folder, name)
            try:
                mode = os.stat(path).st_mode
            except OSError:  # a dangling symlink: the reader reports it (read_error:not_found)
                found.append((path, True))
                continue
            found.append((path, stat.S_ISREG(mode)))
    return found


def discover_inputs(paths: list[str], *, source: str | None = None, exclude: list[str] = ()) -> list[InputFile]:
    """Expand input paths into :class:`InputFile` s, in argument order, folders sorted inside.

    ``source`` names the source of every file; by default each argument's folder name or file
    stem. Unknown file types inside folders come back as ``kind="unsupported"`` (see
    :func:`unsupported_files`), FIFOs and devices as ``kind="special"``. Local folders in
    ``exclude`` (the run's output folder) are never read, even when inside an input folder.
    """
    excluded = [os.path.realpath(x) for x in exclude]
    files: list[InputFile] = []
    named_by: dict[str, str] = {}
    for arg in paths:
        fs, root = url_to_fs(str(arg))
        root = root.rstrip("/") or root
        try:
            exists = fs.exists(root)
        except OSError as exc:
            raise InputError(f"{arg}: cannot access input path ({exc})") from None
        if not exists:
            raise InputError(f"{arg}: input path does not exist")
        if fs.isdir(root):
            label = source or posixpath.basename(root) or str(arg)
            if isinstance(fs, LocalFileSystem):
                found = _local_files(root, exclude=excluded)
            else:
                found = [(p, True) for p in fs.find(root)]
            found.sort(key=lambda item: posixpath.relpath(item[0], root))
            if not found:
                raise InputError(f"{arg}: input folder contains no files")
            entries = [
                (p, posixpath.relpath(p, root), (kind_of(p) or "unsupported") if regular else "special")
                for p, regular in found
            ]
        else:
            kind = kind_of(root)
            if kind is None:
                raise InputError(
                    f"{arg}: unknown input file type (supported endings: {', '.join(sorted(SUFFIX_KINDS))})"
                )
            label = source or file_stem(posixpath.basename(root))
            entries = [(root, posixpath.basename(root), kind)]
        for path, relpath, kind in entries:
            location = _location(fs, path)
            if location in named_by:
                raise InputError(f"{location}: named twice (by {named_by[location]!r} and {str(arg)!r})")
            named_by[location] = str(arg)
            files.append(InputFile(path=location, kind=kind, source=label, relpath=relpath))
    return files


def unsupported_files(files: list[InputFile]) -> list[InputFile]:
    """The discovered files no reader handles (each becomes an ``unsupported_file`` drop)."""
    return [f for f in files if f.kind == "unsupported"]
