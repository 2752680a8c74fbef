"""Benchmark: ``tokenizer train --pretokenize morphemes`` vs the default, chars/token held out.

Run (from the repo root; /tmp/lo and /tmp/faq unpacked as ``bench/tokens_data.py`` says)::

    PYTHONPATH=$PWD python bench/tokens_morphemes.py --analyzers kiwi --vocab-size 32000

Both tokenizers are trained by hanforge on the same shards (``bench/tokens_data.py``: 9 of
every 10 LibreOffice help pages) with the same settings; the only difference is
``pretokenize = "morphemes"`` (pieces learned inside Kiwi / konlpy morphemes). They are
compared with ``hanforge tokenizer report``'s functions on held-out text they never saw: the
10th LibreOffice page (same domain) and the Debian FAQ (another manual, prose). Training CPU
seconds (this process; SentencePiece threads included) are reported beside.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pyarrow.parquet as pq
import tokens_data

from hanforge.tokenizer.report import tokenizer_report
from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split_heldout(held: Path, work: Path) -> dict[str, Path]:
    """The held-out shards cut by source: ``lo-held`` (LibreOffice) and ``faq`` (Debian FAQ)."""
    out = {}
    rows = [r for f in sorted((held / "shards").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    for name, source in (("lo-held", "libreoffice"), ("faq", "debian-faq")):
        folder = work / name
        if not (folder / "shards").is_dir():
            tokens_data._write(folder, [r for r in rows if r["source"] == source], 1)
        out[name] = folder
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hanforge-bench-tokens-morphemes"))
    ap.add_argument("--vocab-size", type=int, default=32000)
    ap.add_argument("--analyzers", default="kiwi", help="comma list of kiwi, okt, komoran")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    train, held = tokens_data.text_shards(args.work)
    heldout = split_heldout(held, args.work)

    variants = [("default", {})] + [
        (f"morphemes-{a}", {"pretokenize": "morphemes", "morpheme_analyzer": a}) for a in args.analyzers.split(",")
    ]
    rows = []
    for name, kw in variants:
        folder = args.work / f"tok-{args.vocab_size // 1000}k-{name}"
        t0 = cpu_seconds()
        manifest = train_tokenizer(
            inputs=[train], output=folder, config=TokenizerTrainConfig(vocab_size=args.vocab_size, **kw)
        )
        secs = cpu_seconds() - t0
        print(f"{name}: trained ({secs:.0f} CPU s, 0 if it was already there)", flush=True)
        report = {h: tokenizer_report(inputs=[p], tokenizers=[folder])[0] for h, p in heldout.items()}
        rows.append((name, manifest, secs, report))

    out = [
        f"# Morpheme-pretokenized tokenizer vs default ({datetime.date.today()}, vocab {args.vocab_size:,})",
        "",
        f"Trained on {rows[0][1]['num_chars']:,} chars ({rows[0][1]['num_lines']:,} lines) of LibreOffice help.",
        "",
        "| tokenizer | train CPU s | boundaries marked | lo-held ko chars/token | lo-held en chars/token "
        "| faq ko chars/token | faq en chars/token | faq ko byte fallback |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, manifest, secs, report in rows:
        lo, faq = report["lo-held"], report["faq"]
        out.append(
            f"| {name} | {secs:.0f} | {manifest.get('num_morpheme_cuts', 0):,} | {lo['ko_chars_per_token']:.3f} | "
            f"{lo['en_chars_per_token']:.3f} | {faq['ko_chars_per_token']:.3f} | {faq['en_chars_per_token']:.3f} | "
            f"{faq['ko_byte_fallback_rate']:.4f} |"
        )
    lo, faq = rows[0][3]["lo-held"], rows[0][3]["faq"]
    out += [
        "",
        f"Held out: lo-held {lo['ko_lines']:,} Korean lines ({lo['ko_chars']:,} chars), {lo['en_lines']:,} English; "
        f"faq {faq['ko_lines']:,} Korean lines ({faq['ko_chars']:,} chars), {faq['en_lines']:,} English.",
        "",
    ]
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
