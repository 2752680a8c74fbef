"""kss sentences and morpheme (precise) mode of the quality/repetition filters vs the default.

Run (from the repo root; LibreOffice help unpacked, see /work/shared/data/README)::

    python bench/korean_precise.py --lo /tmp/lo/libreoffice/help/ko/text --limit 400 \
        --analyzers kiwi,okt,komoran --out bench/results/korean_precise.md

Pages are extracted and normalized as in ``bench/filter_rates.py``. For the repetition and
quality steps it runs the default (eojeol) configuration, then ``sentences = true`` and
``precise = <analyzer>`` for each analyzer, on the same pages, and reports: drops, kept
characters, documents whose keep/drop decision flips against the default (with their path and
reasons, so they can be read), and seconds and MB/s per step on one core. Analyzer load time
(JVM start for konlpy) is reported apart from the per-MB cost. Lines-over-length counts
give the share of text the kss option would split at several thresholds.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from datatrove.data import Document

sys.path.insert(0, str(Path(__file__).parent))
from filter_rates import load_pages

from hanforge.corpus import morphemes as morph
from hanforge.corpus.filters import QualityConfig, RepetitionConfig
from hanforge.corpus.filters.korean_text import content_lines
from hanforge.corpus.filters.quality import ends_sentence


def decide(step, pages) -> tuple[dict[str, str | None], float]:
    reasons: dict[str, str | None] = {}
    start = time.perf_counter()
    for _, path, text in pages:
        reasons[path] = step.process(Document(text=text, id=path, metadata={}))
    return reasons, time.perf_counter() - start


def kss_speed(args) -> int:
    """kss alone, one call per line of > 100 characters, per backend (import timed apart)."""
    pages = load_pages(args.lo, "lo")[: args.limit]
    lines = [line for p in pages for line in p[2].split("\n") if len(line) > 100]
    mb = sum(len(line.encode()) for line in lines) / 1e6
    from hanforge.corpus import sentences as sent

    t0 = time.perf_counter()
    split_sentences = sent._kss_split()  # kss's sentence module only, as the filters load it
    print(f"{len(lines)} lines > 100 chars, {mb:.3f} MB; kss sentence module {time.perf_counter() - t0:.1f} s")
    for backend in args.kss_backends.split(","):
        t0 = time.perf_counter()
        n = sum(len(split_sentences(line, backend=backend, num_workers=1)) for line in lines)
        secs = time.perf_counter() - t0
        print(f"kss backend={backend}: {n} sentences, {secs:.1f} s, {mb / secs:.4f} MB/s", flush=True)
    return 0


def thresholds(args) -> int:
    """``sentences`` at several line-length thresholds N on LibreOffice + Debian FAQ pages.

    kss runs once per distinct line of at least min(N) characters (timed per line); each N then
    runs the repetition and quality steps with ``sentences = true, sentence_min_chars = N`` on
    those cached splits, so the kss cost of N is the sum of the timed calls on lines >= N
    (per MB of all page text) and the step's own time is measured apart.
    """
    from hanforge.corpus import sentences as sent

    ns = sorted(int(n) for n in args.thresholds.split(","))
    corpora = [("lo", load_pages(args.lo, "lo")[: args.limit])]
    if args.faq:
        corpora.append(("faq", load_pages(args.faq, "faq")))
    out = [
        f"# kss `sentences` thresholds ({datetime.date.today()}, backend {args.sentence_backend})",
        "",
        "| corpus | N | lines split | of them into >= 2 | chars on split lines | sentences | kss CPU s | kss CPU s/MB | step s "
        "(rep+qual) | lines ending a sentence | rep dropped | rep flips | qual dropped | qual flips "
        "| kept chars (rep and qual) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    t0 = time.perf_counter()
    kss = sent._kss_split()
    print(f"kss sentence module loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    notes = []
    for label, pages in corpora:
        pages = [p for p in pages if p[2].strip()]
        mb = sum(len(p[2].encode()) for p in pages) / 1e6
        long_lines = sorted({ln for p in pages for ln in p[2].split("\n") if len(ln) >= ns[0]})
        cache: dict[str, tuple[list[str], float]] = {}
        for i, line in enumerate(long_lines):
            t0 = time.process_time()  # CPU seconds: kss is single-threaded here; wall time is load-bound
            cache[line] = (kss(line, backend=args.sentence_backend, num_workers=1), time.process_time() - t0)
            if i % 200 == 0:
                print(f"{label}: kss {i}/{len(long_lines)} lines", flush=True)

        def cached(text: str, *, cache=cache, **_: object) -> list[str]:
            return cache[text][0]

        sent._kss_split = lambda cached=cached: cached  # the timed splits above, per N
        base = {}
        for n in [0, *ns]:
            kw = {"sentences": True, "sentence_min_chars": n, "sentence_backend": args.sentence_backend} if n else {}
            reasons, step_secs = {}, 0.0
            for cls in (RepetitionConfig, QualityConfig):
                reasons[cls.step_type], secs = decide(cls(**kw).build(), pages)
                step_secs += secs
            if not n:
                base = reasons
                n = 10**9  # sentences off: no line is split
            split = [ln for ln in long_lines if len(ln) >= n]
            kss_secs = sum(cache[ln][1] for ln in split)
            chars = {p[1]: len(p[2]) for p in pages}
            kept = sum(chars[p] for p in chars if reasons["repetition"][p] is None and reasons["quality"][p] is None)
            row = [label, str(n) if n < 10**9 else "off", str(len(split))]
            row += [str(sum(len(cache[ln][0]) >= 2 for ln in split)), f"{sum(map(len, split)):,}"]
            row += [str(sum(len(cache[ln][0]) for ln in split)), f"{kss_secs:.1f}", f"{kss_secs / mb:.0f}"]
            row.append(f"{step_secs:.1f}")
            ends = [ends_sentence(ln) for p in pages for ln in sent.split_long_lines(content_lines(p[2]), min_chars=n)]
            row.append(f"{sum(ends) / len(ends):.1%} of {len(ends):,}")
            for step in ("repetition", "quality"):
                flips = [p for p in chars if (reasons[step][p] is None) != (base[step][p] is None)]
                row += [str(sum(r is not None for r in reasons[step].values())), str(len(flips))]
                notes += [f"- {label} N={n} {step}: {p}: {base[step][p]} -> {reasons[step][p]}" for p in flips]
            row.append(f"{kept:,} of {sum(chars.values()):,}")
            out.append("| " + " | ".join(row) + " |")
            print(out[-1], flush=True)
        out.append(f"| {label}: {len(pages)} pages, {mb:.3f} MB |" + " |" * 14)
    out += ["", "Decisions that change against `sentences` off:", *(notes or ["- none"]), ""]
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lo", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=400, help="first N pages (sorted by path)")
    ap.add_argument("--analyzers", default="kiwi", help="comma list of kiwi, okt, komoran")
    ap.add_argument("--sentence-min-chars", type=int, default=200)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--kss-backends", default="", help="only time kss backends (comma list) on lines > 100 chars")
    ap.add_argument("--thresholds", default="", help="comma list of N: the sentences-threshold study (see thresholds)")
    ap.add_argument("--faq", type=Path, help="Debian FAQ folder (ko/) for --thresholds")
    ap.add_argument("--sentence-backend", default="punct", help="kss backend for --thresholds")
    args = ap.parse_args()
    if args.thresholds:
        return thresholds(args)
    if args.kss_backends:
        return kss_speed(args)

    pages = [p for p in load_pages(args.lo, "lo")[: args.limit] if p[2].strip()]
    chars = {p[1]: len(p[2]) for p in pages}
    mb = sum(len(p[2].encode()) for p in pages) / 1e6
    out = [f"# Korean precise steps ({datetime.date.today()}, {len(pages)} LibreOffice pages, {mb:.3f} MB)", ""]
    line_lens = [len(line) for p in pages for line in p[2].split("\n")]
    total = sum(line_lens)
    out.append("Share of characters on lines of at least N characters (what `sentences` would split):")
    for n in (100, 200, 400, 1000):
        out.append(
            f"- N={n}: {sum(x for x in line_lens if x >= n) / total:.1%} of characters, "
            f"{sum(1 for x in line_lens if x >= n)} lines"
        )
    out.append("")

    variants = [("default", {})]
    variants.append(("sentences", {"sentences": True, "sentence_min_chars": args.sentence_min_chars}))
    for name in args.analyzers.split(","):
        variants.append((f"precise={name}", {"precise": name}))
    out.append("| step | variant | load s | run s | MB/s | dropped | kept chars | flips vs default | agreement |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    flip_notes = []
    for cls in (RepetitionConfig, QualityConfig):
        base = None
        for label, kw in variants:
            t0 = time.perf_counter()
            step = cls(**kw).build()
            if "precise" in kw:
                morph.analyzer(kw["precise"])("워밍업 문장")  # first call starts the JVM / model
            load = time.perf_counter() - t0
            reasons, secs = decide(step, pages)
            dropped = sum(r is not None for r in reasons.values())
            kept = sum(chars[p] for p, r in reasons.items() if r is None)
            if base is None:
                base = reasons
                flips = []
            else:
                flips = [p for p in reasons if (reasons[p] is None) != (base[p] is None)]
            out.append(
                f"| {cls.step_type} | {label} | {load:.1f} | {secs:.1f} | {mb / secs:.3f} | {dropped} | "
                f"{kept:,} | {len(flips)} | {1 - len(flips) / len(pages):.1%} |"
            )
            for p in flips[:8]:
                flip_notes.append(f"- {cls.step_type} {label}: {p}: default={base[p]} -> {reasons[p]}")
            print(out[-1], flush=True)
    out += ["", "Flipped documents (first 8 per variant):", *flip_notes, ""]
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
