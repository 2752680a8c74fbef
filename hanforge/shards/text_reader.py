"""Finding and reading Parquet text shards: the one place that turns inputs into shard files and
batches of rows.

Every verb that reads text shards (``tokenize``, ``dedup``, ``tokenizer train``/``extend``,
``mix``) finds them with :func:`find_text_shards` and reads them with :func:`open_text_shard` /
:func:`iter_text_batches`, so an input means the same thing everywhere: a Parquet file, a folder
holding ``shards/*.parquet`` (a corpus output: its ``excluded/`` shards are not used), or a
folder of ``*.parquet``. A shard is named by a key ``<input label>/<relative path>`` (no absolute
paths end up in manifests); the label is the input's name, longer where two inputs share a name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hanforge.atomic import TMP_MARKER
from hanforge.errors import InputError, ShardError

TEXT_COLUMN = "text"
#: Rows per batch when a caller does not choose (a few MB of Korean text).
DEFAULT_BATCH_ROWS = 2048


def input_labels(paths: Sequence[Path]) -> list[str]:
    """A distinct label per input path: its name, or, where names collide (``a/corpus`` and
    ``b/corpus``), its last folders joined by ``~`` (``a~corpus``, ``b~corpus``), so that no
    input hides another. The same input named twice is an error."""
    resolved = [p.resolve() for p in paths]
    for i, r in enumerate(resolved):
        if r in resolved[:i]:
            raise InputError(f"{paths[i]}: input named twice")
    depth = [1] * len(paths)
    while True:
        labels = ["~".join(r.parts[-d:]).lstrip("/") or r.name for r, d in zip(resolved, depth, strict=True)]
        clashing = {label for label in labels if labels.count(label) > 1}
        if not clashing:
            return labels
        for i, label in enumerate(labels):
            if label in clashing:
                depth[i] = min(depth[i] + 1, len(resolved[i].parts))


def find_text_shards(inputs: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """``[(key, path)]`` of the Parquet text shards behind ``inputs``, in input order.

    The files of one folder come sorted by name; temporaries of a killed writer are skipped.
    The same shard reached twice (directly or through two inputs) is an error, as is an input
    that is neither a ``.parquet`` file nor a folder holding some. (``hanforge dedup`` numbers
    shards in this order.)
    """
    found: list[tuple[str, Path]] = []
    paths = [Path(raw) for raw in inputs]
    for path, label in zip(paths, input_labels(paths), strict=True):
        if path.is_file() and path.suffix == ".parquet":
            found.append((label, path))
            continue
        if not path.is_dir():
            raise InputError(f"{path}: input is neither a Parquet file nor a folder of text shards")
        folder = path / "shards" if (path / "shards").is_dir() else path
        files = sorted(p for p in folder.glob("*.parquet") if p.is_file() and TMP_MARKER not in p.name)
        if not files:
            raise InputError(f"{path}: no *.parquet text shards found (looked in {folder.name}/)")
        found.extend((f"{label}/{f.relative_to(path)}", f) for f in files)
    paths = [p.resolve() for _, p in found]
    if len(set(paths)) != len(paths):
        raise InputError("the same shard is given twice in the inputs")
    return found


def text_shard_files(inputs: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """:func:`find_text_shards` sorted by key (the order of tokenize, mix and tokenizer training).

    Keys name shards in manifests, so two inputs whose shards get the same key are an error.
    """
    found = sorted(find_text_shards(inputs))
    for (key, _), (next_key, _) in zip(found, found[1:]):
        if key == next_key:
            raise InputError(f"two inputs hold a shard named {key!r}; rename one of the input folders")
    return found


def open_text_shard(path: str | Path, *, required: Sequence[str] = (TEXT_COLUMN,)) -> pq.ParquetFile:
    """The Parquet file at ``path``; a :class:`ShardError` names it if unreadable or missing a column."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pa.ArrowInvalid is a ValueError
        raise ShardError(f"{path}: cannot read Parquet text shard ({exc})") from None
    names = parquet.schema_arrow.names
    for column in required:
        if column not in names:
            raise ShardError(f"{path}: no column {column!r} (columns: {', '.join(names)})")
    return parquet


def iter_text_batches(
    path: str | Path,
    *,
    text_column: str = TEXT_COLUMN,
    optional: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_ROWS,
    use_threads: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``text_column`` plus those ``optional`` columns the shard has."""
    parquet = open_text_shard(path, required=(text_column,))
    names = parquet.schema_arrow.names
    columns = [text_column] + [c for c in optional if c in names and c != text_column]
    yield from parquet.iter_batches(batch_size=batch_size, columns=columns, use_threads=use_threads)


def shard_row_counts(output: Path) -> dict[str, int]:
    """``{"shards/NAME.parquet" or "excluded/NAME.parquet": rows}`` of a corpus output folder,
    read from the Parquet footers (what run and dedup record in their manifests)."""
    return {
        str(p.relative_to(output)): pq.read_metadata(p).num_rows
        for sub in ("shards", "excluded")
        for p in sorted((output / sub).glob("*.parquet"))
    }
