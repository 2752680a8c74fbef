"""The scale curve: ``hanforge run``, ``dedup``, ``mix`` and ``tokenize`` at 1x, 10x, 100x ... the
LibreOffice help WARC, with the CPU cost per GB, docs per CPU-second, peak RSS per worker and
disk written of every stage.

Run (from the repo root; needs ``../shared/data`` or ``$HANFORGE_SHARED_DATA``, and a tokenizer, see
bench/tokens_data.py)::

    PYTHONPATH=. python bench/scale_curve.py --scales 1,10,30 --work /tmp/hanforge-scale

Input at scale ``k``: ``k`` gzipped WARC files (``warc/copy-NNN.warc.gz``), each holding the
2,561 LibreOffice help pages plus the 18 Debian FAQ pages of ``/work/shared/data``. Copy 0 is
the pages as they are; copy ``j >= 1`` has changed URLs (``https://help.libreoffice.org/c<j>/...``)
and, inside every HTML text node of three or more eojeols, the eojeols in a seeded random order.
Plain copies would be exact duplicates: ``dedup`` would drop 90% (99%) of them and ``mix`` and
``tokenize`` would only ever see the 1x corpus. With shuffled eojeols the copies are new documents
made of the same real Korean (and English) words, so every stage sees ``k`` times the work, while
short text nodes (menus, titles: the boilerplate) stay the same in every copy, as on a real site.

Each stage runs as the CLI (``python -m hanforge.cli ...``) in a child of a small wrapper process,
which reports ``getrusage(RUSAGE_CHILDREN)`` once the CLI and all its processes have exited:

* **CPU seconds** = user + system time of the whole process tree (the CLI, its datatrove
  workers and extraction children; the wrapper is a child subreaper, so workers of a forkserver
  that outlives the CLI are waited for and counted too). The machine is shared by other jobs on 2 cores, so wall time
  measures the load; CPU time is what a stage costs. Cost per GB = CPU seconds / GB.
* **peak RSS per worker** = ``ru_maxrss`` of the children: the largest resident set of any one
  process of the tree (the CLI process itself or one worker).
* **disk written** = ``ru_oublock`` × 512 bytes (every byte the tree sent to the file system,
  temporaries included), and the final size of the stage's output folder.

Stages: ``run`` (default pipeline, ``--tasks k`` = one task per WARC file, ``--workers 2``) on
``warc/``; ``dedup`` (``--workers 2``) on the run's kept shards; ``mix`` (one source, the dedup
output, unit tokens with the benchmark tokenizer, a budget of 90% of its tokens estimated from
the first shard's chars per token, ``max_epochs = 2``); ``tokenize`` (seq_len 4096) of the mix.
The WARC is written before any stage and is not measured. ``--keep`` keeps each scale's folder
(the dedup output is what ``bench/tokens_throughput.py --set`` reads for tokens/s on the
10x/100x sets); otherwise each scale's folder is deleted when its row is done.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path(os.environ.get("HANFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
LO_TAR = DATA / "libreoffice-help-ko-7.4.7.tar.gz"
FAQ_TAR = DATA / "debian-faq-ko-11.1.tar.gz"
TEXT_NODE = re.compile(rb">([^<>]+)<")
STAGES = ("run", "dedup", "mix", "tokenize")


# -- the input ------------------------------------------------------------------------------------
def load_pages() -> list[tuple[str, bytes]]:
    """(url path, HTML bytes) of the LibreOffice help and the Debian FAQ, sorted."""
    pages = []
    for tar_path, prefix in ((LO_TAR, "help"), (FAQ_TAR, "faq")):
        with tarfile.open(tar_path) as tar:
            for m in sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".html")), key=str):
                pages.append((f"{prefix}/{m.name}", tar.extractfile(m).read()))
    return pages


def shuffled(body: bytes, rng: random.Random) -> bytes:
    """``body`` with the eojeols of every text node of 3+ eojeols in a random order."""

    def one(match: re.Match) -> bytes:
        words = match.group(1).split(b" ")
        if sum(1 for w in words if w.strip()) < 3:
            return match.group(0)
        rng.shuffle(words)
        return b">" + b" ".join(words) + b"<"

    return TEXT_NODE.sub(one, body)


def write_copy(pages: list[tuple[str, bytes]], copy: int, out: Path) -> int:
    """Write WARC copy number ``copy``; return its HTML bytes."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    tmp = out.with_suffix(".tmp")
    html = 0
    with open(tmp, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for index, (name, body) in enumerate(pages):
            if copy:
                body = shuffled(body, random.Random(copy * 1_000_003 + index))
            html += len(body)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                f"https://help.libreoffice.org/c{copy}/{name}",
                "response",
                payload=io.BytesIO(body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": "2026-11-28T00:00:00Z"},
            )
            writer.write_record(record)
    tmp.replace(out)
    return html


def build_input(pages, scale: int, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    html = sum(write_copy(pages, j, folder / f"copy-{j:03d}.warc.gz") for j in range(scale))
    warc = sum(p.stat().st_size for p in folder.glob("*.warc.gz"))
    return {"docs": len(pages) * scale, "html_bytes": html, "warc_bytes": warc}


# -- measuring one stage --------------------------------------------------------------------------
def measured_child(cmd: list[str]) -> None:
    """(In the wrapper process) run ``cmd``; print its process tree's rusage as JSON.

    The wrapper makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): datatrove's
    worker pool runs in a forkserver that outlives the CLI and is never waited for by it, so
    without this its CPU would not reach ``RUSAGE_CHILDREN``. Every orphaned descendant is
    reparented to the wrapper, which waits for all of them before reading its rusage.
    """
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed: CPU of orphaned workers would be lost")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # the orphans (forkserver, its workers) exit once the CLI is gone
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.1)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "rc": proc.returncode,
                "wall_s": wall,
                "cpu_s": ru.ru_utime + ru.ru_stime,
                "user_s": ru.ru_utime,
                "sys_s": ru.ru_stime,
                "peak_rss_mb": ru.ru_maxrss / 1024,
                "written_bytes": ru.ru_oublock * 512,
                "stdout": proc.stdout[-4000:],
                "stderr": proc.stderr[-4000:],
            }
        )
    )


def measure(cli_args: list[str], *, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--measure", "--", sys.executable, "-m", "hanforge.cli", *cli_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"hanforge {' '.join(cli_args)} failed (rc {result['rc']}):\n{result['stderr']}")
    return result


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def parquet_rows(folder: Path) -> tuple[int, int, int]:
    """(rows, num_chars, bytes) of the Parquet shards in ``folder``."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = chars = size = 0
    for f in sorted(folder.glob("*.parquet")):
        rows += pq.ParquetFile(f).metadata.num_rows
        chars += int(pc.sum(pq.read_table(f, columns=["num_chars"])["num_chars"]).as_py() or 0)
        size += f.stat().st_size
    return rows, chars, size


def mix_budget(dedup_shards: Path, tokenizer: Path, chars: int) -> int:
    """90% of the source's tokens, estimated from the first shard's chars per token."""
    import pyarrow.parquet as pq

    from hanforge.tokenizer.load import load_tokenizer

    first = sorted(dedup_shards.glob("*.parquet"))[0]
    texts = pq.read_table(first, columns=["text"])["text"]
    loaded = load_tokenizer(tokenizer)
    _, lengths = loaded.encoder.encode(texts)
    sample_chars = sum(len(t or "") for t in texts.to_pylist())
    return int(0.9 * chars * (int(lengths.sum()) + len(lengths)) / sample_chars)


# -- one scale ------------------------------------------------------------------------------------
def run_scale(
    pages, scale: int, work: Path, tokenizer: Path, *, workers: int, stages: tuple[str, ...], reuse_input: bool = False
) -> dict:
    """Measure ``stages`` at ``scale``. Without "run", the input and earlier outputs kept in
    ``work/x<scale>`` by an earlier ``--keep`` run are used and only the later stages rerun."""
    folder = work / f"x{scale}"
    common = ["--no-progress"]
    if "run" in stages and not (reuse_input and len(list((folder / "warc").glob("copy-*.warc.gz"))) == scale):
        shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        warc = build_input(pages, scale, folder / "warc")
        (folder / "input.json").write_text(json.dumps(warc))
        print(
            f"[x{scale}] input: {warc['docs']:,} pages, {warc['html_bytes'] / 1e6:,.1f} MB HTML, "
            f"{warc['warc_bytes'] / 1e6:,.1f} MB WARC (built in {time.perf_counter() - t:.0f} s)",
            flush=True,
        )
    elif (folder / "input.json").is_file():
        warc = json.loads((folder / "input.json").read_text())
    else:
        files = list((folder / "warc").glob("*.warc.gz"))
        warc = {"docs": len(pages) * len(files), "html_bytes": None, "warc_bytes": sum(f.stat().st_size for f in files)}
    rows = {}

    def stage(name: str, cli_args: list[str], docs_in: int, bytes_in: int, out: Path) -> None:
        if name not in stages:
            return
        shutil.rmtree(out, ignore_errors=True)
        r = measure(cli_args)
        r.update(docs_in=docs_in, bytes_in=bytes_in, output_bytes=folder_bytes(out))
        r.pop("stdout"), r.pop("stderr")
        rows[name] = r
        print(f"[x{scale}] {name}: {r['cpu_s']:.1f} CPU-s, {r['wall_s']:.1f} s wall", flush=True)

    stage(
        "run",
        ["run", str(folder / "warc"), "--output", str(folder / "run"), "--tasks", str(scale)]
        + ["--workers", str(workers), *common],
        warc["docs"],
        warc["warc_bytes"],
        folder / "run",
    )
    kept, _, kept_bytes = parquet_rows(folder / "run" / "shards")
    stage(
        "dedup",
        ["dedup", str(folder / "run"), "--output", str(folder / "dedup"), "--workers", str(workers), *common],
        kept,
        kept_bytes,
        folder / "dedup",
    )
    ddocs, dchars, dbytes = parquet_rows(folder / "dedup" / "shards")
    config = folder / "mix.toml"
    if "mix" in stages:
        total = mix_budget(folder / "dedup" / "shards", tokenizer, dchars)
        config.write_text(
            "[mix]\n"
            f'output = "{folder / "mix"}"\n'
            f"total = {total}\n"
            'unit = "tokens"\n'
            f'tokenizer = "{tokenizer}"\n'
            "max_epochs = 2.0\n"
            "[mix.sources.web]\n"
            f'path = "{folder / "dedup"}"\n'
            "ratio = 1.0\n",
            encoding="utf-8",
        )
    stage("mix", ["mix", "--config", str(config)], ddocs, dbytes, folder / "mix")
    mdocs, _, mbytes = parquet_rows(folder / "mix" / "shards")
    stage(
        "tokenize",
        ["tokenize", str(folder / "mix"), "--tokenizer", str(tokenizer), "--seq-len", "4096"]
        + ["--output", str(folder / "tokens"), *common],
        mdocs,
        mbytes,
        folder / "tokens",
    )
    if "tokenize" in rows:
        rows["tokenize"]["tokens"] = json.loads((folder / "tokens" / "manifest.json").read_text())["num_tokens"]
    return {"scale": scale, **warc, "stages": rows}


def print_table(results: list[dict]) -> None:
    print(
        "\n| scale | stage | docs in | stage input MB | CPU s | wall s | docs per CPU-s | CPU-s per GB of WARC "
        "| CPU-s per GB of stage input | peak RSS per worker MB | written MB (all) | output MB |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for res in results:
        gb = res["warc_bytes"] / 1e9
        for stage in (s for s in STAGES if s in res["stages"]):
            r = res["stages"][stage]
            print(
                f"| {res['scale']}x | {stage} | {r['docs_in']:,} | {r['bytes_in'] / 1e6:,.1f} | {r['cpu_s']:,.1f} | "
                f"{r['wall_s']:,.1f} | {r['docs_in'] / r['cpu_s']:,.0f} | {r['cpu_s'] / gb:,.0f} | "
                f"{r['cpu_s'] / (r['bytes_in'] / 1e9):,.0f} | {r['peak_rss_mb']:,.0f} | "
                f"{r['written_bytes'] / 1e6:,.1f} | {r['output_bytes'] / 1e6:,.1f} |"
            )
        cpu = sum(r["cpu_s"] for r in res["stages"].values())
        print(
            f"| {res['scale']}x | **{' + '.join(res['stages'])}** | {res['docs']:,} pages | WARC {res['warc_bytes'] / 1e6:,.1f} | "
            f"{cpu:,.1f} | {sum(r['wall_s'] for r in res['stages'].values()):,.1f} | {res['docs'] / cpu:,.0f} | "
            f"**{cpu / gb:,.0f}** | | {max(r['peak_rss_mb'] for r in res['stages'].values()):,.0f} | "
            f"{sum(r['written_bytes'] for r in res['stages'].values()) / 1e6:,.1f} | |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,10,100", help="comma-separated copies of the WARC")
    ap.add_argument("--work", type=Path, default=Path("/tmp/hanforge-scale"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tokenizer", type=Path, default=None, help="default: bench/tokens_data.py's 32k tokenizer")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here (appended per scale)")
    ap.add_argument("--keep", action="store_true", help="keep each scale's folder")
    ap.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run; without run, the later ones rerun on the folders an earlier --keep run left",
    )
    ap.add_argument("--reuse-input", action="store_true", help="keep a WARC set an earlier --keep run built")
    ap.add_argument("--table", type=Path, nargs="+", default=None, help="only print the table of these --json files")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("cmd", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measured_child(args.cmd)
        return
    if args.table:
        print_table([json.loads(line) for f in args.table for line in f.read_text().splitlines() if line.strip()])
        return
    if args.tokenizer is None:
        import tokens_data

        args.tokenizer = tokens_data.trained_tokenizer()
    pages = load_pages()
    print(
        f"{len(pages):,} pages per copy; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    results = []
    for scale in (int(s) for s in args.scales.split(",")):
        stages = tuple(s for s in STAGES if s in args.stages.split(","))
        res = run_scale(
            pages, scale, args.work, args.tokenizer, workers=args.workers, stages=stages, reuse_input=args.reuse_input
        )
        res["load_average_after"] = os.getloadavg()[0]
        results.append(res)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            with args.json.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(res) + "\n")
        if not args.keep:
            shutil.rmtree(args.work / f"x{scale}")
        print_table([res])
    print_table(results)


if __name__ == "__main__":
    main()
