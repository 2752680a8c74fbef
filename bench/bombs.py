"""Bombs at full size: peak RSS per worker and wall time of ``hanforge run`` on each, vs a normal run.

The inputs of issue #11, generated into ``bench/_work/bombs/`` (each in its own folder):

* ``warc-gz``: a ~1 MB ``.warc.gz``: one Korean page, then a record inflating to 1 GiB of zeros
* ``parquet``: a ~2 KB Parquet file of 100 rows x 15 MB text (one dictionary-encoded value)
* ``newlines``: a ~100 KB ``.jsonl.gz`` of 100 MB of newlines, then one document
* ``nested-divs``: a 1.1 MB HTML page of 100,000 nested ``<div>`` s (extract ``timeout_s`` 5 s)
* ``normal``: the embedded LibreOffice sample (hanforge/sample/libreoffice-help-ko), the baseline

Each runs as ``hanforge run`` (default pipeline of pipelines.toml, 1 worker, 1 task) in its own
subprocess; peak RSS is the largest resident set of any process of that run (the task process
and the extraction child: ``RUSAGE_CHILDREN``). For the nested-div page the extract step's own
time (stats.json) is printed beside the limit.

    .venv/bin/python bench/bombs.py [--only warc-gz parquet ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "_work" / "bombs"
SAMPLE = REPO / "hanforge" / "sample" / "libreoffice-help-ko"
KOREAN = "한국어 본문 문단입니다. 이 문장은 충분히 길어서 본문으로 인식됩니다. " * 20
EXTRACT_LIMIT_S = 5.0


def korean_page() -> bytes:
    return f"<html><head><meta charset='utf-8'><title>t</title></head><body><p>{KOREAN}</p></body></html>".encode()


def warc_record_member(url: str, payload_chunks, length: int, *, level: int = 6) -> bytes:
    """One gzip member holding a WARC response record; the payload is streamed from chunks."""
    http_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    head = (
        f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{abs(hash(url)):032x}>\r\n"
        f"WARC-Date: 2026-11-29T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http_head) + length}\r\n\r\n"
    ).encode()
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [comp.compress(head + http_head)]
    out += [comp.compress(chunk) for chunk in payload_chunks]
    out.append(comp.compress(b"\r\n\r\n"))
    out.append(comp.flush())
    return b"".join(out)


def make_warc_gz(folder: Path) -> None:
    page = korean_page()
    zeros = (b"\0" * (1 << 24) for _ in range(64))  # 64 x 16 MiB = 1 GiB
    data = warc_record_member("https://ko.example/page", [page], len(page)) + warc_record_member(
        "https://ko.example/zeros", zeros, 1 << 30, level=9
    )
    (folder / "bomb.warc.gz").write_bytes(data)


def make_parquet(folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = pa.array(["가" * 5_000_000])  # 15 MB of UTF-8, stored once
    column = pa.DictionaryArray.from_arrays(pa.array([0] * 100, pa.int32()), big)
    # store_schema=False: read back as a plain string column, as any Parquet writer's file would
    pq.write_table(pa.table({"text": column}), folder / "bomb.parquet", compression="zstd", store_schema=False)


def make_newlines(folder: Path) -> None:
    with gzip.open(folder / "bomb.jsonl.gz", "wb", compresslevel=9) as fh:
        for _ in range(100):
            fh.write(b"\n" * 1_000_000)
        fh.write(json.dumps({"text": KOREAN}, ensure_ascii=False).encode() + b"\n")


def make_nested_divs(folder: Path) -> None:
    depth = 100_000
    (folder / "nested.html").write_bytes(
        b"<html><body>" + b"<div>" * depth + KOREAN.encode() + b"</div>" * depth + b"</body></html>"
    )


BOMBS = {"warc-gz": make_warc_gz, "parquet": make_parquet, "newlines": make_newlines, "nested-divs": make_nested_divs}


def run_one(inputs: Path, output: Path) -> dict:
    """``hanforge run`` on ``inputs`` in a subprocess: wall seconds, peak RSS, stats.json."""
    shutil.rmtree(output, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hanforge",
            "run",
            str(REPO / "pipelines.toml"),
            "--input",
            str(inputs),
            "--output",
            str(output),
            "--workers",
            "1",
            "--tasks",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"hanforge run on {inputs} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    stats = json.loads((output / "stats.json").read_text())
    return {"seconds": seconds, "peak_rss_mb": peak / 1024, "peak_grew": peak > before, "stats": stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=["normal", *BOMBS], help="run only these")
    args = parser.parse_args()
    names = args.only or ["normal", *BOMBS]
    # the normal run first: RUSAGE_CHILDREN keeps the maximum, so a later smaller run would
    # not show; each run is therefore also started in a fresh interpreter below
    if len(names) > 1:
        for name in names:
            subprocess.run([sys.executable, __file__, "--only", name], check=True)
        return
    (name,) = names
    if name == "normal":
        inputs = SAMPLE
    else:
        inputs = WORK / name
        shutil.rmtree(inputs, ignore_errors=True)
        inputs.mkdir(parents=True)
        BOMBS[name](inputs)
    size = sum(p.stat().st_size for p in inputs.rglob("*") if p.is_file())
    r = run_one(inputs, WORK / f"out-{name}")
    docs = r["stats"]["documents"]
    extract = next((s for s in r["stats"]["steps"] if s["step"] == "extract"), {})
    line = (
        f"{name:<12} input {size / 1e6:8.3f} MB  wall {r['seconds']:6.1f} s  peak RSS {r['peak_rss_mb']:6.0f} MB  "
        f"docs in/kept/excluded {docs['input']}/{docs['kept']}/{docs['excluded']}  "
        f"reasons {r['stats']['drop_reasons']}"
    )
    if name == "nested-divs":
        line += f"  extract step {extract.get('seconds', 0):.2f} s (limit {EXTRACT_LIMIT_S} s)"
    print(line, flush=True)
    if name != "normal":
        shutil.rmtree(inputs, ignore_errors=True)
    shutil.rmtree(WORK / f"out-{name}", ignore_errors=True)


if __name__ == "__main__":
    main()
