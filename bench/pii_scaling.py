"""PII scrubbing time against the number of matches, before (a baseline git ref) and after.

Run (from the repo root)::

    /work/venv/bin/python bench/pii_scaling.py --baseline-ref 6870c7f --real /tmp/pii_real/lo

One Korean text per size with M PII matches (a phone number and an e-mail per sentence, M from
2,000 to 32,000 doubling); the best of ``--repeats`` runs of ``scrub_pii`` per size. Linear
scrubbing costs ~2x per doubling of M; the baseline grew ~4x or more (it copied every earlier
output part per match and walked every earlier match per rescan match). Each side runs in
its own subprocess; the ratios within one side are what is compared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_recall import REPO, checkout

SIZES = (2000, 4000, 8000, 16000, 32000)


def text_with_matches(num_matches: int) -> str:
    filler = "오늘 회의는 오후 세 시에 본관 2층에서 열립니다. "
    return "".join(
        f"{filler}연락처 010-{1000 + i % 9000}-{(i * 7) % 10000:04d}, 메일 user{i}@naver.com 입니다. "
        for i in range(num_matches // 2)
    )


def real_throughput(folder: str, repeats: int, limit: int = 800) -> dict:
    """chars/s of ``scrub_pii`` over the main text of the first ``limit`` pages under ``folder``."""
    from resiliparse.extract.html2text import extract_plain_text

    from hanforge.corpus.pii import scrub_pii

    pages = sorted(Path(folder).rglob("*.html"))[:limit]
    texts = [extract_plain_text(p.read_text(encoding="utf-8", errors="replace"), main_content=True) for p in pages]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            scrub_pii(text)
        best = min(best, time.perf_counter() - start)
    return {"pages": len(texts), "chars": sum(map(len, texts)), "seconds": best}


def measure(sizes: list[int], repeats: int, limit_s: float) -> dict:
    from hanforge.corpus.pii import scrub_pii

    out = {}
    for size in sizes:
        text = text_with_matches(size)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            _, matches = scrub_pii(text)
            best = min(best, time.perf_counter() - start)
        assert len(matches) == size, (len(matches), size)
        out[size] = {"seconds": best, "chars": len(text)}
        if best > limit_s:  # the quadratic baseline: the next size would take minutes
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-ref", default="6870c7f")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit-s", type=float, default=20.0, help="stop growing a side after a size this slow")
    parser.add_argument(
        "--real",
        help="folder of real Korean HTML pages: also compare chars/s on their main "
        "text (text with little PII, the common case)",
    )
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        result = measure(list(SIZES), args.repeats, args.limit_s)
        if args.real:
            result["real"] = real_throughput(args.real, args.repeats)
        print(json.dumps(result))
        return
    import os
    import shutil
    import subprocess

    def side(root: Path) -> dict:
        env = {**os.environ, "PYTHONPATH": str(root)}
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--measure",
            "--repeats",
            str(args.repeats),
            "--limit-s",
            str(args.limit_s),
        ] + (["--real", str(Path(args.real).resolve())] if args.real else [])
        return json.loads(subprocess.run(cmd, env=env, cwd=root, check=True, capture_output=True, text=True).stdout)

    base = checkout(args.baseline_ref)
    try:
        before = side(base)
    finally:
        shutil.rmtree(base)
    after = side(REPO)
    lines = [
        "| matches | chars | before s | before ×/doubling | after s | after ×/doubling |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    prev_b = prev_a = None
    real_before, real_after = before.pop("real", None), after.pop("real", None)
    for size in map(str, SIZES):
        b, a = before.get(size), after.get(size)
        if a is None:
            continue
        rb = f"{b['seconds'] / prev_b:.2f}" if b and prev_b else ""
        ra = f"{a['seconds'] / prev_a:.2f}" if prev_a else ""
        lines.append(
            f"| {int(size):,} | {a['chars']:,} | {b['seconds']:.3f} | {rb} | {a['seconds']:.3f} | {ra} |"
            if b
            else f"| {int(size):,} | {a['chars']:,} | (skipped) | | {a['seconds']:.3f} | {ra} |"
        )
        prev_b, prev_a = (b["seconds"] if b else None), a["seconds"]
    if real_after:
        lines += [
            "",
            f"Real pages ({real_after['pages']}, {real_after['chars']:,} chars of main text): "
            f"before {real_before['chars'] / real_before['seconds'] / 1e6:.2f} M chars/s, "
            f"after {real_after['chars'] / real_after['seconds'] / 1e6:.2f} M chars/s",
        ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
