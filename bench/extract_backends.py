"""Benchmark the ``extract`` step's backends side by side: resiliparse vs trafilatura.

One command runs every backend on the same pages (the 2,561 Korean LibreOffice help pages by
default) and prints speed and Korean-specific quality as a Markdown table:

    .venv/bin/python bench/extract_backends.py                      # /tmp/lo, all pages
    .venv/bin/python bench/extract_backends.py --pages hanforge/sample --limit 50

Quality is measured against a reference of *all* visible text: lxml ``text_content()`` of
``<body>`` minus ``script``/``style``/``nav``/``noscript``/``template``. Figures:

* docs/s and MB/s (UTF-8 markup bytes in), one process, pages already in memory;
* Hangul kept: Hangul characters in the output / in the reference (pooled, and the median page);
* Hangul kept vs non-hidden ref: the same against a reference that also drops elements with a
  ``hidden`` attribute (LibreOffice help pages hide per-module text until JavaScript shows it);
* empty: fraction of pages whose output is empty or whitespace (dropped as ``extract_empty``);
* recurring lines: distinct lines found on > 50% of a backend's outputs (navigation
  boilerplate that survives extraction), and the share of output characters in them;
* reference nav kept: of the lines that occur on > 50% of the *reference* texts (menus,
  headers, footers), the fraction of their occurrences each backend keeps.

A second table times the two text steps that follow extraction on the default backend's
output: ``normalize_korean`` vs plain ``unicodedata.normalize("NFC")`` (the floor any
normalizer pays), and ``scrub_pii`` (8 Korean PII types) vs datatrove's ``PIIFormatter``
(e-mails and public IPv4 only), with the number of spans each replaces.

The backends are built with :func:`hanforge.corpus.extract.make_extractor`, i.e. exactly the
code the pipeline step runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import lxml.html

from hanforge.corpus.extract import ExtractConfig, make_extractor
from hanforge.corpus.normalize import normalize_korean
from hanforge.corpus.pii import scrub_pii

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")
REFERENCE_DROP = ("script", "style", "nav", "noscript", "template")

VARIANTS = {
    "resiliparse": ExtractConfig(backend="resiliparse"),
    "trafilatura": ExtractConfig(backend="trafilatura"),
    "trafilatura-precision": ExtractConfig(backend="trafilatura", favor="precision"),
    "trafilatura-recall": ExtractConfig(backend="trafilatura", favor="recall"),
}
BASELINE = "trafilatura"


def reference_text(markup: str, *, drop_hidden: bool = False) -> str:
    """All visible body text (the quality reference); optionally minus ``hidden`` elements."""
    # bytes + explicit encoding: lxml refuses str input that carries an XML declaration (XHTML)
    root = lxml.html.document_fromstring(markup.encode("utf-8"), parser=UTF8_PARSER)
    for el in root.iter(*REFERENCE_DROP):
        el.drop_tree()
    if drop_hidden:
        for el in root.xpath("//body//*[@hidden]"):
            el.drop_tree()
    body = root.find("body")
    return (body if body is not None else root).text_content()


def lines_of(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def run_variant(name: str, pages: list[str]) -> tuple[list[str], float]:
    extract = make_extractor(VARIANTS[name])
    extract(pages[0])  # warm-up: imports, lazy init
    outputs = []
    start = time.perf_counter()
    for markup in pages:
        try:
            outputs.append(extract(markup) or "")
        except Exception:  # counted as empty output, like the step's extract_error drop  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
            outputs.append("")
    return outputs, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="/tmp/lo/libreoffice/help/ko/text", help="folder of .html pages")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pages (sorted)")
    parser.add_argument(
        "--variants",
        default="resiliparse,trafilatura,trafilatura-precision",
        help=f"comma-separated, from {', '.join(VARIANTS)}",
    )
    args = parser.parse_args(argv)
    files = sorted(Path(args.pages).rglob("*.html"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no .html pages under {args.pages}", file=sys.stderr)
        return 1
    pages = [f.read_bytes().decode("utf-8", errors="replace") for f in files]
    total_mb = sum(len(p.encode("utf-8")) for p in pages) / 1e6
    n = len(pages)
    refs = [reference_text(p) for p in pages]
    ref_hangul = [len(HANGUL.findall(r)) for r in refs]
    shown_hangul = [len(HANGUL.findall(reference_text(p, drop_hidden=True))) for p in pages]
    ref_df = Counter(line for r in refs for line in lines_of(r))
    ref_nav = {line for line, df in ref_df.items() if df > n / 2}
    ref_nav_occurrences = sum(len(lines_of(r) & ref_nav) for r in refs)
    print(
        f"{n} pages, {total_mb:.1f} MB markup, {sum(ref_hangul):,} reference Hangul chars, "
        f"{len(ref_nav)} reference nav lines (on > 50% of pages)\n"
    )

    rows = {}
    for name in args.variants.split(","):
        outputs, seconds = run_variant(name, pages)
        out_hangul = [len(HANGUL.findall(o)) for o in outputs]
        per_page = [o / r for o, r in zip(out_hangul, ref_hangul, strict=True) if r]
        df = Counter(line for o in outputs for line in lines_of(o))
        recurring = {line for line, c in df.items() if c > n / 2}
        out_chars = sum(len(o) for o in outputs)
        recurring_chars = sum(len(line) for o in outputs for line in o.splitlines() if line.strip() in recurring)
        nav_kept = sum(len(lines_of(o) & ref_nav) for o in outputs)
        rows[name] = {
            "seconds": seconds,
            "docs/s": n / seconds,
            "MB/s": total_mb / seconds,
            "hangul kept (pooled)": sum(out_hangul) / max(1, sum(ref_hangul)),
            "hangul kept (median page)": statistics.median(per_page) if per_page else 0.0,
            "hangul kept vs non-hidden ref": sum(out_hangul) / max(1, sum(shown_hangul)),
            "empty": sum(1 for o in outputs if not o.strip()) / n,
            "recurring lines": len(recurring),
            "recurring char share": recurring_chars / max(1, out_chars),
            "reference nav kept": nav_kept / max(1, ref_nav_occurrences),
            "output chars": out_chars,
            "_recurring": sorted(recurring, key=lambda s: -df[s])[:8],
            "_outputs": outputs,
        }
        print(f"  {name}: {seconds:.1f} s", file=sys.stderr)

    names = list(rows)
    print("| metric | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    fmt = {
        "seconds": "{:.1f}",
        "docs/s": "{:.1f}",
        "MB/s": "{:.2f}",
        "hangul kept (pooled)": "{:.1%}",
        "hangul kept (median page)": "{:.1%}",
        "hangul kept vs non-hidden ref": "{:.1%}",
        "empty": "{:.1%}",
        "recurring lines": "{:d}",
        "recurring char share": "{:.1%}",
        "reference nav kept": "{:.1%}",
        "output chars": "{:,}",
    }
    for metric, f in fmt.items():
        print(f"| {metric} | " + " | ".join(f.format(rows[v][metric]) for v in names) + " |")
    if BASELINE in rows:
        print(
            f"\nspeed vs {BASELINE}: "
            + ", ".join(f"{v} {rows[v]['docs/s'] / rows[BASELINE]['docs/s']:.2f}x" for v in names)
        )
    for v in names:
        print(f"\n{v} recurring lines (most frequent first): {rows[v]['_recurring']}")
    if "resiliparse" in rows:
        text_step_table(rows["resiliparse"]["_outputs"])
    return 0


def text_step_table(outputs: list[str]) -> None:
    """Throughput of normalize and PII scrubbing on extracted text, each beside a baseline."""
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.formatters.pii import public_ip_validator

    chars = sum(len(o) for o in outputs)
    formatter = PIIFormatter()
    datatrove_spans = 0
    for o in outputs:
        datatrove_spans += len(formatter.emails_replacer.regex.findall(o))
        datatrove_spans += sum(public_ip_validator(ip) for ip in formatter.ip_replacer.regex.findall(o))
    normalized = [normalize_korean(o) for o in outputs]
    hanforge_spans = sum(len(scrub_pii(o)[1]) for o in normalized)
    cases = {
        "normalize_korean": (lambda: [normalize_korean(o) for o in outputs], outputs),
        "unicodedata NFC (baseline)": (lambda: [unicodedata.normalize("NFC", o) for o in outputs], outputs),
        "scrub_pii": (lambda: [scrub_pii(o) for o in normalized], normalized),
        "datatrove PIIFormatter (baseline)": (lambda: [formatter.format(o) for o in normalized], normalized),
    }
    print(f"\ntext steps on the resiliparse output ({chars:,} chars):\n")
    print("| step | seconds | M chars/s | spans replaced |")
    print("| --- | --- | --- | --- |")
    for name, (fn, _) in cases.items():
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        spans = {"scrub_pii": hanforge_spans, "datatrove PIIFormatter (baseline)": datatrove_spans}.get(name, "")
        print(f"| {name} | {seconds:.2f} | {chars / seconds / 1e6:.1f} | {spans} |")


if __name__ == "__main__":
    sys.exit(main())
