"""Fingerprints and manifests: every artifact records what produced it.

A manifest (``manifest.json`` next to a shard set, mix, tokenizer or token-shard set) holds the
config fingerprint, input fingerprints and package versions. Fingerprints are content hashes,
so identical inputs and config give identical manifests (no timestamps inside).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_json, remove_stale_temporaries
from hanforge.errors import ConfigError

_FULL_HASH_LIMIT = 1 << 30  # files above 1 GiB are fingerprinted by size + head + tail
_CHUNK = 1 << 20


def config_fingerprint(config: Any) -> str:
    """sha256 of the canonical JSON form of ``config`` (a dict or a ConfigBase)."""
    data = config.to_dict() if hasattr(config, "to_dict") else config
    canon = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """blake2b of the file's bytes (size + first and last MiB for files over 1 GiB)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.blake2b(digest_size=16)
    h.update(str(size).encode())
    with path.open("rb") as fh:
        if size <= _FULL_HASH_LIMIT:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        else:
            h.update(fh.read(_CHUNK))
            fh.seek(size - _CHUNK)
            h.update(fh.read(_CHUNK))
    return h.hexdigest()


@functools.cache
def _package_versions(names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def package_versions(names: tuple[str, ...] = ("hanforge", "datatrove", "pyarrow", "polars")) -> dict[str, str]:
    """Installed versions of the packages that shape an artifact (looked up once per process)."""
    return dict(_package_versions(names))


def write_manifest(folder: str | Path, *, kind: str, config: Any, inputs: dict[str, str], **extra: Any) -> dict:
    """Write ``folder/manifest.json`` atomically and return it."""
    manifest = {
        "kind": kind,
        "config_fingerprint": config_fingerprint(config),
        "config": config.to_dict() if hasattr(config, "to_dict") else config,
        "inputs": inputs,
        "packages": package_versions(),
        **extra,
    }
    atomic_write_json(Path(folder) / "manifest.json", manifest)
    return manifest


RUN_MARKER = "run.json"


def claim_output(output: str | Path, marker: dict[str, Any], *, overwrite: bool, what: str) -> None:
    """Make ``output`` ready for a resumable job: a fresh folder, or an earlier run of the very
    same job (``output/run.json`` equal to ``marker``, compared as JSON).

    A folder holding anything besides ``logs/`` (where the console log may already be open) with
    no marker or a different one is a ConfigError naming ``what`` ("run", "dedup run"), unless
    ``overwrite``, which empties it. Stale temporaries of a killed run are removed.
    """
    output = Path(output)
    path = output / RUN_MARKER
    if output.exists() and any(p.name != "logs" for p in output.iterdir()):
        if overwrite:
            shutil.rmtree(output)
        elif not path.is_file():
            raise ConfigError(f"output folder {output} exists and is not a hanforge {what}; pick another "
                              "--output or pass --overwrite")
        elif json.loads(path.read_text(encoding="utf-8")) != json.loads(json.dumps(marker, default=str)):
            raise ConfigError(f"output folder {output} holds a {what} with a different config or inputs; "
                              "pass --overwrite to replace it or pick another --output")
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, marker)
    remove_stale_temporaries(output)
