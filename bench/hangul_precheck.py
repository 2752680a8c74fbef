"""Benchmark: WARC parsing (FastWARC vs warcio) and the raw-byte Hangul pre-check on real pages.

Run (needs the LibreOffice pages unpacked, see /work/shared/data/README.md):

    .venv/bin/python bench/hangul_precheck.py --pages /tmp/lo/libreoffice/help/ko/text

1. Builds a WARC (.warc.gz, one gzip member per record, and plain .warc) of all pages with
   warcio's writer, then reads every response payload with FastWARC and with warcio, and
   with hanforge's DocumentReader (FastWARC inside, plus resync/truncation bookkeeping).
2. Pre-check recall: pages whose extracted text (resiliparse, main content) has a Hangul
   ratio over letters >= 0.3 are "Korean"; recall = share of them the pre-check keeps at
   each threshold, for the UTF-8 pages and for the same pages re-encoded as CP949.
3. Pre-check speed against the baseline of decoding and counting Hangul with a regex.
Prints a markdown report (copy it into bench/results/hangul_precheck.md).
"""

from __future__ import annotations

import argparse
import io
import re
import tempfile
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from warcio.archiveiterator import ArchiveIterator as WarcioIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from hanforge.corpus.hangul_precheck import DEFAULT_MIN_RATIO, hangul_byte_ratio
from hanforge.corpus.ingest import DocumentReader, IngestConfig, discover_inputs

HANGUL = re.compile(r"[\uac00-\ud7a3]")
THRESHOLDS = (0.002, 0.005, 0.01, 0.02, 0.03)


def build_warc(path: Path, pages: list[tuple[str, bytes]], *, gzip: bool) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        for url, body in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def read_fastwarc(path: Path) -> int:
    total = 0
    with open(path, "rb") as fh:
        for record in FastIterator(fh, record_types=WarcRecordType.response):
            total += len(record.reader.read())
    return total


def read_warcio(path: Path) -> int:
    total = 0
    with open(path, "rb") as fh:
        for record in WarcioIterator(fh):
            if record.rec_type == "response":
                total += len(record.content_stream().read())
    return total


def read_hanforge(path: Path) -> int:
    docs = DocumentReader(discover_inputs([str(path)]), config=IngestConfig()).run()
    return sum(len(d.metadata.get("_raw", b"")) for d in docs)


def regex_ratio(raw: bytes, encoding: str) -> float:
    """Baseline: decode, then count Hangul syllables' bytes with a regex."""
    text = raw.decode(encoding, errors="replace")
    per_char = 3 if encoding == "utf-8" else 2
    return per_char * len(HANGUL.findall(text)) / len(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default="/tmp/lo/libreoffice/help/ko/text", help="folder of HTML pages")
    args = parser.parse_args()
    files = sorted(Path(args.pages).rglob("*.html"))
    pages = [(f"https://help.example.org/{f.relative_to(args.pages)}", f.read_bytes()) for f in files]
    total_mb = sum(len(b) for _, b in pages) / 1e6
    print(f"# {len(pages)} pages, {total_mb:.1f} MB of HTML\n")

    print("## WARC reading (best of 3, all response payloads)\n")
    print("| file | FastWARC s | warcio s | warcio/FastWARC | hanforge DocumentReader s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for gz in (True, False):
            path = Path(tmp) / ("lo.warc.gz" if gz else "lo.warc")
            build_warc(path, pages, gzip=gz)
            t_fast, n_fast = best_of(lambda p=path: read_fastwarc(p))
            t_warcio, n_warcio = best_of(lambda p=path: read_warcio(p))
            t_hf, n_hf = best_of(lambda p=path: read_hanforge(p))
            assert n_fast == n_warcio == n_hf, (n_fast, n_warcio, n_hf)
            print(
                f"| {path.name} ({path.stat().st_size / 1e6:.1f} MB) | {t_fast:.3f} | {t_warcio:.3f} | "
                f"{t_warcio / t_fast:.1f}x | {t_hf:.3f} |"
            )

    print("\n## Pre-check recall on Korean pages (extracted-text Hangul ratio >= 0.3)\n")
    labelled = []
    for _, raw in pages:
        text = extract_plain_text(raw.decode("utf-8"), main_content=True)
        letters = sum(c.isalpha() for c in text)
        ratio = len(HANGUL.findall(text)) / letters if letters else 0.0
        labelled.append((raw, ratio >= 0.3))
    korean = [raw for raw, is_ko in labelled if is_ko]
    other = [raw for raw, is_ko in labelled if not is_ko]
    cp949 = [raw.decode("utf-8").encode("cp949", errors="replace") for raw in korean]
    print(f"{len(korean)} Korean pages, {len(other)} pages below 0.3 (mostly untranslated English help)\n")
    print("| min_ratio | recall UTF-8 | recall CP949 | kept of the pages below 0.3 |")
    print("|---|---|---|---|")
    for th in THRESHOLDS:
        r_utf8 = sum(hangul_byte_ratio(r) >= th for r in korean) / len(korean)
        r_cp949 = sum(hangul_byte_ratio(r) >= th for r in cp949) / len(cp949)
        kept_other = sum(hangul_byte_ratio(r) >= th for r in other) / max(1, len(other))
        mark = " (default)" if th == DEFAULT_MIN_RATIO else ""
        print(f"| {th}{mark} | {r_utf8:.4f} | {r_cp949:.4f} | {kept_other:.3f} |")

    print("\n## Pre-check speed (best of 3, all pages)\n")
    print("| input | hangul_byte_ratio MB/s | decode + regex MB/s | speed-up |")
    print("|---|---|---|---|")
    everything = [raw for raw, _ in labelled]
    for name, blobs, encoding in (("UTF-8 pages", everything, "utf-8"), ("CP949 pages", cp949, "cp949")):
        mb = sum(len(b) for b in blobs) / 1e6
        t_ours, _ = best_of(lambda b=blobs: [hangul_byte_ratio(x) for x in b])
        t_base, _ = best_of(lambda b=blobs, e=encoding: [regex_ratio(x, e) for x in b])
        print(f"| {name} ({mb:.1f} MB) | {mb / t_ours:.0f} | {mb / t_base:.0f} | {t_base / t_ours:.1f}x |")
    big = b"".join(everything)
    t_big, _ = best_of(lambda: hangul_byte_ratio(big))
    print(f"| one {len(big) / 1e6:.1f} MB buffer (UTF-8) | {len(big) / 1e6 / t_big:.0f} | | |")


if __name__ == "__main__":
    main()
