"""Korean-first WARC ingest vs extracting every record first, on a mixed-language WARC.

Builds one .warc.gz from Debian's LibreOffice help packages in nine languages (en-US, de, fr,
es, it, ru, ja, zh-CN and ko; the same 7.4.7 release) with Korean about 5% of the records,
shuffled deterministically, then runs two pipelines over it, one after the other in this
process, each ending in the same language decision (the ``hangul_ratio`` filter, Hangul share
of letters >= 0.3 on extracted text):

  extract-all:   WARC reader -> decode -> extract -> hangul_ratio           (every record parsed)
  korean-first:  WARC reader with korean_only_warc (raw-byte Hangul pre-check, and
                 WARC-Identified-Content-Language where present) -> decode -> extract -> hangul_ratio

Both modes first run once, untimed, on a tiny WARC (imports, first calls), then
``--repeats`` interleaved timed runs each; the best time of each mode counts. Prints records/s
for both and the speedup, and Korean recall: of the records that came from
the ko package (ground truth), how many pass the pre-check, and of the ko records the
extract-all pipeline finally keeps as Korean, how many Korean-first also keeps.

    # scratch data, not in the repo:
    mkdir -p /tmp/lohelp && cd /tmp/lohelp && apt-get download libreoffice-help-{en-us,de,fr,es,it,ru,ja,zh-cn,ko}
    for f in *.deb; do dpkg-deb -x "$f" /tmp/lohelp/x; done
    .venv/bin/python bench/korean_first_ingest.py --help-root /tmp/lohelp/x/usr/share/libreoffice/help

The records carry no WARC-Identified-Content-Language header (the packages have none), so the
figures measure the raw-byte pre-check alone.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from collections import Counter
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from hanforge.corpus.decode import DecodeConfig
from hanforge.corpus.extract import ExtractConfig
from hanforge.corpus.filters.hangul import HangulRatioConfig
from hanforge.corpus.hangul_precheck import hangul_byte_ratio
from hanforge.corpus.ingest.discover import InputFile
from hanforge.corpus.ingest.options import IngestConfig
from hanforge.corpus.ingest.warc import read_warc
from hanforge.corpus.steps import DROP_REASON

OTHER_LANGUAGES = ("en-US", "de", "fr", "es", "it", "ru", "ja", "zh-CN")
KOREAN = "ko"


def build_warc(help_root: Path, out: Path, *, per_language: int, korean_share: float, seed: int) -> dict[str, str]:
    """Write the mixed WARC; return {url: language}. Same arguments -> same records and order."""
    rng = random.Random(seed)
    picks: list[tuple[str, Path]] = []
    for lang in OTHER_LANGUAGES:
        files = sorted((help_root / lang).rglob("*.html"))
        if not files:
            sys.exit(f"no HTML under {help_root / lang}: unpack the libreoffice-help-* packages first")
        picks += [(lang, p) for p in rng.sample(files, min(per_language, len(files)))]
    num_korean = round(len(picks) * korean_share / (1 - korean_share))
    ko_files = sorted((help_root / KOREAN).rglob("*.html"))
    picks += [(KOREAN, p) for p in rng.sample(ko_files, min(num_korean, len(ko_files)))]
    rng.shuffle(picks)
    labels = {}
    with open(out, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for lang, path in picks:
            url = f"https://help.libreoffice.org/7.4/{lang}/{path.relative_to(help_root / lang).as_posix()}"
            body = path.read_bytes()
            headers = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
                )
            )
            labels[url] = lang
    return labels


def run_mode(warc: Path, *, korean_first: bool, backend: str) -> tuple[float, float, list]:
    """Run reader -> decode -> extract -> hangul_ratio; return (wall s, CPU s, [(url, drop_reason)])."""
    file = InputFile(path=str(warc), kind="warc", source="bench", relpath=warc.name)
    config = IngestConfig(korean_only_warc=korean_first)
    steps = [DecodeConfig().build(), ExtractConfig(backend=backend).build(), HangulRatioConfig().build()]
    start, cpu_start = time.perf_counter(), time.process_time()
    with open(warc, "rb") as fh:
        docs = read_warc(file, fh, config=config, stat=lambda *a, **k: None)
        for step in steps:
            docs = step.run(docs)
        outcomes = [(d.metadata.get("url"), d.metadata.get(DROP_REASON)) for d in docs]
    return time.perf_counter() - start, time.process_time() - cpu_start, outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--help-root", type=Path, default=Path("/tmp/lohelp/x/usr/share/libreoffice/help"))
    ap.add_argument("--per-language", type=int, default=1000, help="records per non-Korean language")
    ap.add_argument(
        "--backends",
        nargs="+",
        default=["resiliparse", "trafilatura"],
        choices=["resiliparse", "trafilatura"],
        help="extract backends to compare under",
    )
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per mode (interleaved); the best counts")
    ap.add_argument("--korean-share", type=float, default=0.05)
    ap.add_argument("--work", type=Path, default=Path("/tmp/korean_first_bench"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    warc = args.work / f"mixed-{args.per_language}-{args.korean_share}.warc.gz"
    labels = build_warc(
        args.help_root, warc, per_language=args.per_language, korean_share=args.korean_share, seed=args.seed
    )
    by_lang = Counter(labels.values())
    print(
        f"WARC {warc} ({warc.stat().st_size / 1e6:.1f} MB gz): {len(labels)} records, "
        f"{by_lang[KOREAN]} Korean ({by_lang[KOREAN] / len(labels):.1%}); "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_lang.items()))
    )

    warm = args.work / "warmup.warc.gz"
    build_warc(args.help_root, warm, per_language=5, korean_share=0.5, seed=args.seed + 1)
    ko_urls = [u for u, lang in labels.items() if lang == KOREAN]
    for backend in args.backends:
        print(f"--- extract backend: {backend}")
        for korean_first in (False, True):  # imports and first-call costs, untimed
            run_mode(warm, korean_first=korean_first, backend=backend)
        results = {}
        for _ in range(args.repeats):  # interleaved; the best time of each mode counts
            for name, korean_first in (("extract-all", False), ("korean-first", True)):
                seconds, cpu, outcomes = run_mode(warc, korean_first=korean_first, backend=backend)
                assert len(outcomes) == len(labels), "every record must come out kept or dropped"
                best = results.get(name)
                results[name] = (
                    min(seconds, best[0]) if best else seconds,
                    min(cpu, best[1]) if best else cpu,
                    dict(outcomes),
                )
        for name in ("extract-all", "korean-first"):
            seconds, cpu, outcome_map = results[name]
            outcomes = list(outcome_map.items())
            kept = Counter(labels[u] for u, reason in outcomes if reason is None)
            reasons = Counter(reason or "kept" for _, reason in outcomes)
            print(
                f"{name:>13}: {seconds:7.2f} s wall  {cpu:7.2f} s CPU  {len(labels) / seconds:8.0f} records/s  "
                f"kept as Korean, by package: {dict(sorted(kept.items()))}  outcomes: {dict(reasons.most_common(5))}"
            )
        base_s, base_cpu, base = results["extract-all"]
        fast_s, fast_cpu, fast = results["korean-first"]
        passed = [u for u in ko_urls if fast[u] != "not_korean_precheck"]
        base_kept = [u for u in ko_urls if base[u] is None]
        both_kept = [u for u in base_kept if fast[u] is None]
        non_ko_passed = sum(1 for u, lang in labels.items() if lang != KOREAN and fast[u] != "not_korean_precheck")
        print(f"speedup korean-first vs extract-all: {base_s / fast_s:.1f}x wall, {base_cpu / fast_cpu:.1f}x CPU time")
        print(
            f"ko-package records passing the pre-check: {len(passed)}/{len(ko_urls)} = {len(passed) / len(ko_urls):.2%}"
        )
        print(
            f"ko-package pages extract-all keeps as Korean that korean-first also keeps: "
            f"{len(both_kept)}/{len(base_kept)} = {len(both_kept) / max(len(base_kept), 1):.2%}"
        )
        print(f"non-Korean records passing the pre-check: {non_ko_passed}/{len(labels) - len(ko_urls)}")
    missed = [
        u
        for u in ko_urls
        if hangul_byte_ratio(Path(args.help_root / KOREAN / u.split("/ko/", 1)[1]).read_bytes())
        < IngestConfig().precheck_min_ratio
    ]
    print(
        f"ko-package pages under the pre-check threshold: {len(missed)} (first 5: "
        + ", ".join(u.rsplit("/ko/", 1)[1] for u in missed[:5])
        + ")"
    )


if __name__ == "__main__":
    main()
