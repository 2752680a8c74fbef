"""What fraction of real Korean pages each filter drops, and how fast, next to datatrove.

Run (from the repo root; needs the LibreOffice help and Debian FAQ pages unpacked, see
/work/shared/data/README)::

    .venv/bin/python bench/filter_rates.py --lo /tmp/lo/libreoffice/help/ko/text --faq /tmp/faq/ko \
        --out bench/results/filters.md

Each page is extracted with resiliparse (``main_content=True``) and normalized with
:func:`hanforge.corpus.normalize.normalize_korean`, then every hanforge filter runs on every page
on its own (its drop rate and reasons) and all of them in the default order (the chained rate).
The baseline runs side by side on the same texts: datatrove's Gopher repetition / FineWeb
quality / Gopher quality filters with FineWeb-2's Korean thresholds, with whitespace
eojeols as words (a custom datatrove ``WordTokenizer``: its Korean splitter needs Kiwi, pinned to
``kiwipiepy<0.22``, and its fallback needs spaCy; neither is installed). Signal percentiles are
printed so defaults can be checked by looking.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.utils.word_tokenizers import WordTokenizer
from resiliparse.extract.html2text import extract_plain_text

from hanforge.atomic import atomic_write_bytes
from hanforge.corpus.filters import (
    BoilerplateConfig,
    HangulRatioConfig,
    LengthConfig,
    QualityConfig,
    RepetitionConfig,
    SpamConfig,
    UrlBlocklistConfig,
)
from hanforge.corpus.normalize import normalize_korean

STEPS = [
    ("boilerplate", BoilerplateConfig),
    ("hangul_ratio", HangulRatioConfig),
    ("length", LengthConfig),
    ("repetition", RepetitionConfig),
    ("quality", QualityConfig),
    ("spam", SpamConfig),
    ("url_blocklist", UrlBlocklistConfig),
]
SIGNALS = [
    "num_boilerplate_lines",
    "hangul_ratio",
    "num_chars",
    "num_eojeols",
    "dup_line_frac",
    "top_ngram_char_frac",
    "dup_ngram_char_frac",
    "avg_eojeol_len",
    "punct_ratio",
    "symbol_ratio",
    "digit_ratio",
]


def load_pages(folder: Path, label: str) -> list[tuple[str, str, str]]:
    """(corpus label, relative path, extracted + normalized text) for every HTML page."""
    pages = []
    for path in sorted(folder.rglob("*.html")):
        html = path.read_bytes().decode("utf-8", errors="replace")
        text = normalize_korean(extract_plain_text(html, main_content=True))
        pages.append((label, str(path.relative_to(folder)), text))
    return pages


def run_step(step, docs: list[Document]) -> float:
    start = time.perf_counter()
    for _ in step.run(iter(docs)):
        pass
    return time.perf_counter() - start


class EojeolTokenizer(WordTokenizer):
    """Whitespace words for datatrove's filters (its Korean tokenizer needs Kiwi, its fallback spaCy)."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [line for line in text.split("\n") if line.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        raise NotImplementedError


def baseline(texts: list[str]) -> tuple[Counter, float]:
    tok = EojeolTokenizer()
    filters = [
        GopherRepetitionFilter(
            language=tok,
            dup_para_frac=0,
            dup_line_char_frac=0,
            dup_para_char_frac=0,
            dup_line_frac=0.374,
            top_n_grams=((2, 0.282), (3, 0.228), (4, 0.185)),
            dup_n_grams=((5, 0.201), (6, 0.184), (7, 0.168), (8, 0.154), (9, 0.14), (10, 0.127)),
        ),
        FineWebQualityFilter(
            language=tok, short_line_thr=999, char_duplicates_ratio=0.1, line_punct_thr=0.062, new_line_ratio=0.196
        ),
        GopherQualityFilter(
            language=tok,
            max_avg_word_length=6,
            min_avg_word_length=1,
            max_non_alpha_words_ratio=0.791,
            min_stop_words=2,
            stop_words=[
                "의",
                "다",
                "이",
                "는",
                "에",
                "을",
                "한",
                "년",
                "하",
                "은",
                "를",
                "했",
                "고",
                "에서",
                "가",
                "있",
                "으로",
                "인",
                "월",
                "로",
                "되",
            ],
        ),
    ]
    reasons: Counter = Counter()
    start = time.perf_counter()
    for text in texts:
        doc = Document(text=text, id="x")
        for f in filters:
            result = f.filter(doc)
            if result is not True:
                reasons[f"{f.name.split()[-2]}:{result[1] if isinstance(result, tuple) else 'drop'}"] += 1
                break
        else:
            reasons["kept"] += 1
    return reasons, time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lo", type=Path, required=True, help="LibreOffice help ko/text folder")
    parser.add_argument("--faq", type=Path, required=True, help="Debian FAQ ko folder")
    parser.add_argument("--out", type=Path, default=Path("bench/results/filters.md"))
    parser.add_argument(
        "--machine", default="2-core CI-class VM, shared with other agents while measured", help="for the report"
    )
    parser.add_argument("--examples", type=int, default=0, help="print this many dropped paths per reason")
    args = parser.parse_args()

    pages = load_pages(args.lo, "libreoffice") + load_pages(args.faq, "debian-faq")
    header = [
        "# Korean filters: drop rates on real pages, signals, speed",
        "",
        "Command: `.venv/bin/python " + " ".join(sys.argv) + "`",
        "",
        f"Machine: {args.machine}. Date: {datetime.date.today().isoformat()}.",
        "",
    ]
    corpora = sorted({p[0] for p in pages})
    num_chars = sum(len(p[2]) for p in pages)
    num_bytes = sum(len(p[2].encode()) for p in pages)
    per_corpus = ", ".join(f"{c}: {sum(p[0] == c for p in pages)}" for c in corpora)
    out = [
        f"UTF-8 text: {num_bytes / 1e6:.2f} MB. Pages: {len(pages)} ({per_corpus}), "
        f"{num_chars / 1e6:.2f} M chars after extraction.",
        "",
    ]

    out += [
        "## Each filter alone (all pages)",
        "",
        "| step | corpus | dropped | rate | reasons | s | MB/s |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    signals: dict[str, list[float]] = {s: [] for s in SIGNALS}
    step_seconds: dict[str, float] = {}
    for name, config_cls in STEPS:
        docs = [Document(text=t, id=f"{c}/{p}", metadata={}) for c, p, t in pages]
        seconds = step_seconds[name] = run_step(config_cls().build(), docs)
        for corpus in corpora:
            mine = [d for d in docs if d.id.startswith(corpus + "/")]
            reasons = Counter(d.metadata["drop_reason"] for d in mine if d.metadata.get("drop_reason"))
            dropped = sum(reasons.values())
            out.append(
                f"| {name} | {corpus} | {dropped}/{len(mine)} | {dropped / len(mine):.1%} | "
                f"{', '.join(f'{r} {n}' for r, n in reasons.most_common())} | "
                f"{seconds:.2f} | {num_bytes / 1e6 / seconds:.1f} |"
                if corpus == corpora[0]
                else f"| {name} | {corpus} | {dropped}/{len(mine)} | {dropped / len(mine):.1%} | "
                f"{', '.join(f'{r} {n}' for r, n in reasons.most_common())} | | |"
            )
            if args.examples:
                for reason in reasons:
                    ex = [d.id for d in mine if d.metadata.get("drop_reason") == reason][: args.examples]
                    print(name, reason, ex)
        for d in docs:
            for s in SIGNALS:
                if s in d.metadata:
                    signals[s].append(float(d.metadata[s]))

    docs = [Document(text=t, id=f"{c}/{p}", metadata={}) for c, p, t in pages]
    stream = iter(docs)
    for _, config_cls in STEPS:
        stream = config_cls().build().run(stream)
    start = time.perf_counter()
    final = list(stream)
    chain_seconds = time.perf_counter() - start
    out += [
        "",
        "## All filters chained (default order and defaults)",
        "",
        "| corpus | kept | rate kept | drops by step:reason |",
        "|---|---:|---:|---|",
    ]
    for corpus in corpora:
        mine = [d for d in final if d.id.startswith(corpus + "/")]
        reasons = Counter(
            f"{d.metadata['drop_step']}:{d.metadata['drop_reason']}" for d in mine if d.metadata.get("drop_reason")
        )
        kept = len(mine) - sum(reasons.values())
        out.append(
            f"| {corpus} | {kept}/{len(mine)} | {kept / len(mine):.1%} | "
            f"{', '.join(f'{r} {n}' for r, n in reasons.most_common())} |"
        )

    korean = [d for d in final if d.metadata.get("hangul_ratio", 0.0) >= HangulRatioConfig().threshold]
    korean_kept = sum(1 for d in korean if not d.metadata.get("drop_reason"))
    out += [
        "",
        f"Of the {len(korean)} pages that pass `hangul_ratio`, the other filters keep {korean_kept} "
        f"({korean_kept / len(korean):.1%}).",
    ]

    docs = [Document(text=t, id=f"{c}/{p}", metadata={}) for c, p, t in pages]
    step = HangulRatioConfig(drop_nonkorean_lines=True).build()
    run_step(step, docs)
    changed = [d for d in docs if d.metadata.get("num_nonkorean_lines")]
    removed_lines = sum(d.metadata["num_nonkorean_lines"] for d in changed)
    before = {f"{c}/{p}": len(t) for c, p, t in pages}
    removed_chars = sum(before[d.id] - len(d.text) for d in changed)
    kept_chars = sum(len(d.text) for d in docs if not d.metadata.get("drop_reason"))
    out += [
        "",
        "## Option `hangul_ratio.drop_nonkorean_lines = true`",
        "",
        f"On the pages that pass the ratio, it removed {removed_lines} lines from {len(changed)} pages: "
        f"{removed_chars:,} characters, {removed_chars / (kept_chars + removed_chars):.1%} of their text.",
    ]

    texts = [t for _, _, t in pages]
    base_reasons, base_seconds = baseline(texts)
    same = step_seconds["repetition"] + step_seconds["quality"]
    ours_kept = sum(1 for d in final if not d.metadata.get("drop_reason"))
    out += [
        "",
        "## Baseline: datatrove Gopher repetition + FineWeb quality + Gopher quality",
        "",
        "FineWeb-2 Korean thresholds; words = whitespace eojeols via a custom datatrove WordTokenizer "
        "(datatrove's Korean splitter needs Kiwi, its fallback spaCy; neither is installed). The "
        "stop-word rule uses FineWeb-2's Kiwi-morpheme list, which whole eojeols rarely equal.",
        "",
        f"- kept: {base_reasons['kept']}/{len(texts)} ({base_reasons['kept'] / len(texts):.1%}); "
        f"drops: {', '.join(f'{r} {n}' for r, n in base_reasons.most_common() if r != 'kept')}",
        f"- hanforge chain kept {ours_kept}/{len(texts)} ({ours_kept / len(texts):.1%})",
        f"- time on all pages: baseline's 3 filters {base_seconds:.2f} s; hanforge `repetition` + `quality` "
        f"(the same rules) {same:.2f} s, ratio hanforge/baseline {same / base_seconds:.2f}x; all 7 hanforge "
        f"steps chained {chain_seconds:.2f} s ({chain_seconds / base_seconds:.2f}x; later steps see only "
        "the pages earlier ones keep)",
    ]

    out += [
        "",
        "## Signals over all pages (each filter alone, so every page has them)",
        "",
        "| signal | p1 | p10 | median | p90 | p99 | mean |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s, values in signals.items():
        if values:
            out.append(
                f"| {s} | {pct(values, 0.01):.3g} | {pct(values, 0.1):.3g} | {pct(values, 0.5):.3g} | "
                f"{pct(values, 0.9):.3g} | {pct(values, 0.99):.3g} | {statistics.fmean(values):.3g} |"
            )
    report = "\n".join(header + out) + "\n"
    print(report)
    atomic_write_bytes(args.out, report.encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
