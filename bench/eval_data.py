"""Data of the evaluation benchmarks: the LibreOffice help split into train and held-out pages,
and the held-out Korean text both benches score (never in any training variant).

* LibreOffice pages whose sha1(relative path) % 20 == 0 (about 5%) are held out: in-domain set.
* The Debian FAQ (another site, another register): out-of-domain set.
Both held-out sets are cleaned by hanforge's default pipeline (``hanforge run``), so they are
the same kind of text a model trained on a hanforge corpus would see.

    .venv/bin/python bench/eval_data.py [--work bench/_work/eval]

Writes WORK/lo-train/ (HTML), WORK/lo-heldout/ (HTML), WORK/heldout-lo/ and WORK/heldout-debian/
(text shards). Reruns reuse what exists.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
LO_TAR = SHARED / "libreoffice-help-ko-7.4.7.tar.gz"
DEBIAN_TAR = SHARED / "debian-faq-ko-11.1.tar.gz"


def is_heldout(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 20 == 0


def unpack_split(tar_path: Path, work: Path) -> tuple[Path, Path]:
    train, heldout = work / "lo-train", work / "lo-heldout"
    if train.is_dir() and heldout.is_dir():
        return train, heldout
    for d in (train, heldout):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    with tarfile.open(tar_path) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(".html"):
                dest = (heldout if is_heldout(m.name) else train) / m.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(m).read())
    return train, heldout


def unpack(tar_path: Path, dest: Path) -> Path:
    if not dest.is_dir():
        dest.mkdir(parents=True)
        with tarfile.open(tar_path) as tar:
            tar.extractall(dest, filter="data")
    return dest


def clean(inputs: list[Path], output: Path) -> Path:
    """hanforge's default pipeline on ``inputs`` → text shards in ``output``."""
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline

    if (output / "manifest.json").is_file():
        return output
    cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
    cfg = cfg.merge(dict(inputs=[str(p) for p in inputs], output=str(output), tasks=2, workers=2))
    run_pipeline(cfg, overwrite=True)
    return output


def prepare(work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    train, heldout = unpack_split(LO_TAR, work)
    debian = unpack(DEBIAN_TAR, work / "debian-html")
    return {
        "lo_train_html": train,
        "lo_heldout_html": heldout,
        "heldout_lo": clean([heldout], work / "heldout-lo"),
        "heldout_debian": clean([debian], work / "heldout-debian"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "eval")
    args = parser.parse_args()
    for key, path in prepare(args.work).items():
        n = sum(1 for _ in path.rglob("*.html")) if key.endswith("html") else None
        print(f"{key}: {path}" + (f" ({n} pages)" if n is not None else ""))


if __name__ == "__main__":
    main()
