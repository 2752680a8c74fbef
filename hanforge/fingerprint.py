"""Fingerprints and manifests: every artifact records what produced it.

A manifest (``manifest.json`` next to a shard set, mix, tokenizer or token-shard set) holds the
config fingerprint, input fingerprints and package versions. Fingerprints are content hashes,
so identical inputs and config give identical manifests (no timestamps inside).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_json

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
