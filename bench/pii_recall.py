"""Korean PII scrubbing: recall per type and hard-negative touch rate on the labelled set,
before (a baseline git ref) and after (this checkout), side by side.

Run (from the repo root)::

    /work/venv/bin/python bench/pii_recall.py --baseline-ref 6870c7f --out bench/results/pii.md

The labelled set is ``tests/pii_labelled.py`` (1,950 records, deterministic: positives per type
and format inside Korean sentences, plus 770 hard negatives). A positive is found when every
character of it lies inside a reported match; "type" recall also asks for the right type. A
hard negative is touched when scrubbing changes its text at all. Each side runs in its own
subprocess with its own ``hanforge`` on ``PYTHONPATH`` (the baseline from ``git archive``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"ACCOUNT": 0.95}
DEFAULT_TARGET = 0.98


def checkout(ref: str) -> Path:
    """``hanforge/`` of ``ref`` unpacked into a temporary folder (its import root; the caller
    removes it)."""
    root = Path(tempfile.mkdtemp(prefix="hanforge-base-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "hanforge"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def run_side(root: Path, args: list[str]) -> dict:
    """Run this script's ``--measure`` mode with ``root`` as the hanforge import root."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", *args],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def measure(real: list[str]) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    from pii_labelled import build_labelled_set, evaluate

    from hanforge.corpus import pii

    result = evaluate(build_labelled_set(), pii.scrub_pii)
    result["module"] = pii.__file__
    if real:
        result["real"] = measure_real(real, pii.scrub_pii)
    return result


def measure_real(folders: list[str], scrub) -> dict:
    """Matches on real Korean pages (main text and whole markup): what a scrubber replaces in
    text that holds almost no personal data, listed for inspection."""
    from collections import Counter

    from resiliparse.extract.html2text import extract_plain_text

    pages = sorted(p for folder in folders for p in Path(folder).rglob("*.html"))
    found: dict[str, Counter] = {"text": Counter(), "markup": Counter()}
    examples: dict[str, Counter] = {"text": Counter(), "markup": Counter()}
    chars = 0
    for page in pages:
        markup = page.read_text(encoding="utf-8", errors="replace")
        text = extract_plain_text(markup, main_content=True, preserve_formatting=True)
        chars += len(text)
        for where, content in (("text", text), ("markup", markup)):
            for m in scrub(content)[1]:
                found[where][m.type] += 1
                examples[where][f"{m.type} {content[m.start : m.end]!r}"] += 1
    return {
        "pages": len(pages),
        "text_chars": chars,
        "matches": {k: dict(v) for k, v in found.items()},
        "examples": {k: v.most_common(25) for k, v in examples.items()},
    }


def table(before: dict, after: dict) -> str:
    lines = [
        "| type | positives | recall before | recall after | right type after | target | met? |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pii_type, n in after["positives"].items():
        target = TARGETS.get(pii_type, DEFAULT_TARGET)
        rec = after["recall"][pii_type]
        lines.append(
            f"| {pii_type} | {n} | {before['recall'][pii_type]:.3f} | **{rec:.3f}** | "
            f"{after['type_recall'][pii_type]:.3f} | ≥ {target} | {'yes' if rec >= target else 'no'} |"
        )
    lines.append(
        f"| hard negatives touched | {after['negatives']} | {before['touch_rate']:.2%} "
        f"({before['negatives_touched']}) | **{after['touch_rate']:.2%}** ({after['negatives_touched']}) | | "
        f"≤ 1% | {'yes' if after['touch_rate'] <= 0.01 else 'no'} |"
    )
    return "\n".join(lines)


def format_table(before: dict, after: dict) -> str:
    lines = ["| format | n | found before | found after |", "| --- | --- | --- | --- |"]
    for fmt, c in after["per_format"].items():
        b = before["per_format"].get(fmt, {})
        key = "touched" if fmt.startswith("negative_") else "found"
        lines.append(f"| {fmt} | {c['n']} | {b.get(key, 0)} | {c.get(key, 0)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baseline-ref", default="6870c7f", help="git ref of the 'before' side (default: main before the PII rework)"
    )
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument(
        "--real",
        nargs="*",
        default=[],
        help="folders of real Korean HTML pages: count what each side replaces there (main text and markup)",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.real), ensure_ascii=False))
        return
    real = [str(Path(f).resolve()) for f in args.real]
    side_args = ["--real", *real] if real else []
    base = checkout(args.baseline_ref)
    try:
        before = run_side(base, side_args)
    finally:
        shutil.rmtree(base)
    after = run_side(REPO, side_args)
    report = [
        f"labelled set: {sum(after['positives'].values())} positives, {after['negatives']} hard negatives",
        f"before: {args.baseline_ref} ({before['module']})",
        f"after: {after['module']}",
        "",
        table(before, after),
        "",
        "Per format (hard negatives: touched):",
        "",
        format_table(before, after),
    ]
    if real:
        report += [
            "",
            f"Real pages ({after['real']['pages']}, {after['real']['text_chars']:,} chars of main text): "
            "replacements by type",
            "",
        ]
        for where in ("text", "markup"):
            report.append(
                f"- {where}: before {before['real']['matches'][where]}, after {after['real']['matches'][where]}"
            )
        for where in ("text", "markup"):
            report += [
                "",
                f"Most frequent replacements after ({where}):",
                *(f"- {n} × {ex}" for ex, n in after["real"]["examples"][where]),
            ]
    if after["missed"]:
        report += ["", "Missed after:", *(f"- {m}" for m in after["missed"][:30])]
    if after["touched"]:
        report += ["", "Touched after:", *(f"- {t}" for t in after["touched"][:30])]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
