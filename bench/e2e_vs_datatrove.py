"""End-to-end benchmark: hanforge's default pipeline vs a stock datatrove pipeline.

Both read the same WARC (the 2,561 Korean LibreOffice help pages, packed once into
``bench/_work/lo-ko.warc.gz``), run one worker each in their own subprocess, and write Parquet.

  stock datatrove: WarcReader → Trafilatura → LambdaFilter(Hangul ratio ≥ 0.3) →
                   GopherRepetitionFilter → GopherQualityFilter → PIIFormatter → ParquetWriter
  hanforge:        hanforge run (pipelines.toml default pipeline) on the same WARC

Prints docs/s, MB/s and peak RSS (the process and its children) for both, the ratio, and the
recall of Korean pages: a page is Korean when the text of its content area
(``<div id="DisplayArea">``, read with lxml — neither pipeline's extractor) has a Hangul ratio
over letters ≥ 0.3. It then reruns hanforge on 4 copies of the input to show that peak RSS does
not grow with input size.

    .venv/bin/python bench/e2e_vs_datatrove.py [--lo-tar ../shared/data/libreoffice-help-ko-7.4.7.tar.gz]

Stock datatrove's GopherQualityFilter runs with ``min_stop_words=None``: its English stop-word
rule would drop every Korean page, and its Korean word tokenizer needs kiwipiepy<0.22 (see
KOREAN-CORPUS-FACTS.md). Other filter settings are datatrove's defaults.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work"
DEFAULT_TAR = REPO.parent / "shared" / "data" / "libreoffice-help-ko-7.4.7.tar.gz"
HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LETTER = re.compile(r"[^\W\d_]")


def build_warc(tar_path: Path, out: Path, *, copies: int = 1) -> tuple[int, dict[str, bool], int]:
    """Pack the tarball's HTML pages into a gzipped WARC of response records; return the page
    count, {url: is_korean} ground truth and the HTML bytes."""
    from lxml import html as lxml_html
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    truth: dict[str, bool] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tar_path) as tar, open(tmp, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".html")), key=lambda m: m.name)
        pages = [(m.name, tar.extractfile(m).read()) for m in members]
        for copy in range(copies):
            for name, body in pages:
                url = f"https://help.libreoffice.org/{copy}/{name.split('help/', 1)[-1]}"
                if copy == 0:
                    area = lxml_html.fromstring(body).xpath('//div[@id="DisplayArea"]')
                    text = area[0].text_content() if area else ""
                    letters = len(LETTER.findall(text))
                    truth[url] = letters > 0 and len(HANGUL.findall(text)) / letters >= 0.3
                headers = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                record = writer.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=headers,
                    warc_headers_dict={"WARC-Date": "2026-11-28T00:00:00Z"},
                )
                writer.write_record(record)
    tmp.replace(out)
    return len(pages) * copies, truth, copies * sum(len(body) for _, body in pages)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def side_datatrove(warc: Path, output: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LambdaFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    def hangul_ratio_ok(doc) -> bool:
        letters = len(LETTER.findall(doc.text))
        return letters > 0 and len(HANGUL.findall(doc.text)) / letters >= 0.3

    pipeline = [
        WarcReader(str(warc.parent), glob_pattern=warc.name),
        Trafilatura(favour_precision=True),
        LambdaFilter(hangul_ratio_ok),
        GopherRepetitionFilter(),
        GopherQualityFilter(min_stop_words=None),
        PIIFormatter(),
        ParquetWriter(str(output / "shards")),
    ]
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(output / "logs")).run()
    seconds = time.perf_counter() - start
    import polars as pl

    kept = (
        pl.read_parquet(output / "shards" / "*.parquet", columns=["metadata"])
        if list((output / "shards").glob("*.parquet"))
        else None
    )
    urls = [m["url"] for m in kept["metadata"].to_list()] if kept is not None else []
    return {"seconds": seconds, "kept_urls": urls, "peak_rss_mb": peak_rss_mb()}


def side_hanforge(warc: Path, output: Path) -> dict:
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline

    cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
    cfg = cfg.merge(dict(inputs=[str(warc)], output=str(output), tasks=1, workers=1))
    start = time.perf_counter()
    run_pipeline(cfg, overwrite=True)
    seconds = time.perf_counter() - start
    import polars as pl

    urls = pl.read_parquet(output / "shards" / "*.parquet", columns=["url"])["url"].to_list()
    return {"seconds": seconds, "kept_urls": urls, "peak_rss_mb": peak_rss_mb()}


def run_side(side: str, warc: Path, output: Path) -> dict:
    shutil.rmtree(output, ignore_errors=True)  # datatrove would skip tasks completed earlier
    proc = subprocess.run(
        [sys.executable, __file__, "--side", side, "--warc", str(warc), "--output", str(output)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lo-tar", type=Path, default=DEFAULT_TAR)
    parser.add_argument("--side", choices=["hanforge", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--warc", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        result = (side_hanforge if args.side == "hanforge" else side_datatrove)(args.warc, args.output)
        print(json.dumps(result))
        return

    warc = WORK / "lo-ko.warc.gz"
    num_docs, truth, html_bytes = build_warc(args.lo_tar, warc)
    mb = html_bytes / 1e6
    korean = {u for u, k in truth.items() if k}
    results = {}
    for side in ("datatrove", "hanforge"):
        r = run_side(side, warc, WORK / f"out-{side}")
        kept = set(r.pop("kept_urls"))
        r["kept"] = len(kept)
        r["korean_recall"] = len(kept & korean) / len(korean)
        r["docs_per_s"] = num_docs / r["seconds"]
        r["html_mb_per_s"] = mb / r["seconds"]
        results[side] = r
    big = WORK / "lo-ko-x4.warc.gz"
    build_warc(args.lo_tar, big, copies=4)
    r4 = run_side("hanforge", big, WORK / "out-hanforge-x4")
    r4.pop("kept_urls")

    print(
        f"input: {num_docs} pages, {mb:.1f} MB of HTML ({warc.stat().st_size / 1e6:.1f} MB gzipped WARC); "
        f"Korean pages (ground truth): {len(korean)}"
    )
    print(f"{'':<12}{'seconds':>9}{'docs/s':>9}{'HTML MB/s':>10}{'peak RSS MB':>13}{'kept':>7}{'Korean recall':>15}")
    for side, r in results.items():
        print(
            f"{side:<12}{r['seconds']:>9.1f}{r['docs_per_s']:>9.1f}{r['html_mb_per_s']:>10.2f}"
            f"{r['peak_rss_mb']:>13.0f}{r['kept']:>7}{r['korean_recall']:>15.3f}"
        )
    ratio = results["datatrove"]["seconds"] / results["hanforge"]["seconds"]
    print(f"speedup hanforge vs stock datatrove: {ratio:.2f}x")
    print(
        f"hanforge on 4x input ({4 * num_docs} pages): {r4['seconds']:.1f}s, peak RSS {r4['peak_rss_mb']:.0f} MB "
        f"(1x: {results['hanforge']['peak_rss_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
