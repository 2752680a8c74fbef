"""Reading the editable word and pattern lists the filters use (``hanforge/assets/*.txt``).

A term file is UTF-8 text, one entry a line; blank lines and lines starting with ``#`` are
ignored. A file may be split into sections by ``[name]`` header lines (the boilerplate and URL
lists use this). A config field set to ``None`` means the built-in file shipped in
``hanforge/assets/``; a path points to the user's own file (relative paths resolve against the
current directory) and replaces the built-in one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hanforge.errors import ConfigError


def builtin_asset(name: str) -> Path:
    """Path of the built-in asset ``hanforge/assets/<name>``."""
    return Path(str(resources.files("hanforge") / "assets" / name))


def resolve_term_file(path: str | None, *, default: str, key: str) -> Path:
    """The file to read for config ``key``: ``path`` when set, else built-in asset ``default``.

    Raises ConfigError naming ``key`` and the path when the file does not exist.
    """
    chosen = Path(path) if path is not None else builtin_asset(default)
    if not chosen.is_file():
        raise ConfigError(f"{key}: term file {str(chosen)!r} not found")
    return chosen


def read_sections(path: Path, *, sections: tuple[str, ...]) -> dict[str, list[str]]:
    """Entries of ``path`` by section; entries before any header go to ``sections[0]``.

    Raises ConfigError naming the file and line for an unknown section header.
    """
    out: dict[str, list[str]] = {name: [] for name in sections}
    current = sections[0]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read term file: {exc}") from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in out:
                raise ConfigError(f"{path}:{lineno}: unknown section [{current}] (known: {', '.join(sections)})")
            continue
        out[current].append(line)
    return out


def read_terms(path: Path) -> list[str]:
    """Entries of an unsectioned term file, in file order, duplicates removed."""
    return list(dict.fromkeys(read_sections(path, sections=("terms",))["terms"]))
