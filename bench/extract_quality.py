"""Benchmark: does the pipeline keep the page's content, all of it and only it?

Real Korean manual pages whose content area is known from the page structure (read with lxml, so
no extractor under test decides what the content is):

* ``libreoffice``: LibreOffice 7.4 help (../shared/data), 2,561 pages. Content: ``<div
  id="DisplayArea">`` without its related-topics link list (``div.relatedtopics``); a
  ``switchinline`` (one text per platform, the page's script shows one) counts its ``default``
  case only.
* ``debian-faq``: Debian FAQ (../shared/data), 18 chapters. Content: ``<body>`` without the
  DocBook navigation (``div.navheader``, ``div.navfooter``) and table of contents (``div.toc``).
* ``gimp``: GIMP 2.10 help, Korean (Debian package ``gimp-help-ko``, fetched with
  ``apt-get download`` and unpacked with ``dpkg -x`` under --work; skipped when apt cannot get
  it). Same DocBook layout as the FAQ.

Each page goes through a whole pipeline (every step up to ``pii``, in one process):

* ``main``: today's pipeline, the code and pipelines.toml of ``--baseline`` (a checkout of git
  main, run in a subprocess with that checkout on PYTHONPATH);
* ``trafilatura``: datatrove's ``Trafilatura`` extractor (its defaults: favour_precision) in place
  of the extract step, then this checkout's other steps;
* ``branch``: this checkout's default pipeline; ``branch-lines-off`` the same with
  ``hangul_ratio.drop_nonkorean_lines = false`` (what line-level language handling changes).

Reported per system: Korean-page recall (pages whose content is Korean — Hangul ≥ 50% of its
letters and ≥ 25 eojeols, so no length rule may drop them — that are kept), non-content
characters (kept lines that are not in the page's content area, share of kept characters),
Hangul kept (content-area Hangul found in kept lines, over all Korean pages: a dropped page keeps
none) and the drop reasons of Korean pages.

    PYTHONPATH=$PWD .venv/bin/python bench/extract_quality.py --baseline /tmp/hanforge-main

(``git -C /work/main archive main | tar -x -C /tmp/hanforge-main`` makes the baseline.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
DEFAULT_WORK = Path("/tmp/hanforge-bench-extract")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LETTER = re.compile(r"[^\W\d_]")
LATIN = re.compile(r"[A-Za-z]")
SPACE = re.compile(r"\s+")
PLACEHOLDER = re.compile(r"<[A-Z_]+>")
LIST_MARK = re.compile(r"^\s*(?:•|\d+\.)\s*")


# --- data and references ---------------------------------------------------------------------


def unpack_sites(work: Path) -> dict[str, Path]:
    """``{site: folder of .html pages}``, unpacked under ``work`` once."""
    sites = {}
    for name, tar, sub in (
        ("libreoffice", "libreoffice-help-ko-7.4.7.tar.gz", "libreoffice/help/ko"),
        ("debian-faq", "debian-faq-ko-11.1.tar.gz", "ko"),
    ):
        root = work / name
        if not (root / sub).is_dir():
            root.mkdir(parents=True, exist_ok=True)
            with tarfile.open(DATA / tar) as t:
                t.extractall(root, filter="data")
        sites[name] = root / sub
    gimp = work / "gimp" / "usr/share/gimp/2.0/help/ko"
    if not gimp.is_dir():
        try:
            subprocess.run(["apt-get", "download", "gimp-help-ko"], cwd=work, check=True, capture_output=True)
            deb = sorted(work.glob("gimp-help-ko_*.deb"))[-1]
            subprocess.run(["dpkg", "-x", str(deb), str(work / "gimp")], check=True, capture_output=True)
        except (OSError, subprocess.SubprocessError, IndexError) as exc:
            print(f"skipping gimp: {exc}", file=sys.stderr)
    if gimp.is_dir():
        sites["gimp"] = gimp
    return sites


def _norm(text: str) -> str:
    """Compare form: NFKC (the pipeline's normalize step folds width and wave dashes), no spaces."""
    return SPACE.sub("", unicodedata.normalize("NFKC", text)).replace("ㆍ", "·").replace("ᆞ", "·")


def reference_text(site: str, markup: bytes) -> str:
    """The content area of a page, by its structure (see the module docstring)."""
    from lxml import html

    root = html.document_fromstring(markup)
    for bad in root.xpath("//script|//style|//head"):
        bad.drop_tree()
    if site == "libreoffice":
        areas = root.xpath('//div[@id="DisplayArea"]')
        if not areas:
            return ""
        area = areas[0]
        for bad in area.xpath('.//div[@class="relatedtopics"]'):
            bad.drop_tree()
        for switch in area.xpath('.//span[@class="switchinline"]'):
            cases = [c for c in switch if isinstance(c.tag, str)]
            if any((c.get("id") or "").startswith("default") for c in cases):
                for c in cases:
                    if not (c.get("id") or "").startswith("default"):
                        c.drop_tree()
    else:
        area = root.find("body")
        if area is None:
            return ""
        for bad in area.xpath(
            './/div[contains(concat(" ", @class, " "), " navheader ") or '
            'contains(concat(" ", @class, " "), " navfooter ") or '
            'contains(concat(" ", @class, " "), " toc ")]'
        ):
            bad.drop_tree()
    return area.text_content()


def hangul_ratio(text: str) -> float:
    letters = len(LETTER.findall(text))
    return len(HANGUL.findall(text)) / letters if letters else 0.0


# --- running a pipeline (worker mode; runs with the checkout under test on PYTHONPATH) ------------


def run_worker(system: str, config_path: Path, sites: dict[str, str], out: Path, overrides: list[str]) -> None:
    """Run every page through ``system``'s pipeline; write one JSON line per input document."""
    from hanforge.corpus.ingest import DocumentReader, discover_inputs
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.steps import DocumentStep

    cfg = load_pipelines(config_path).pipeline(None)
    files = []
    for name, folder in sites.items():
        files += discover_inputs([folder], source=name)
    steps = [DocumentReader(files, config=cfg.ingest)]
    for step_cfg in cfg.step_configs:
        if system == "branch-lines-off" and step_cfg.step_type == "hangul_ratio":
            step_cfg.drop_nonkorean_lines = False
        for item in overrides if system.startswith("branch") else []:
            key, value = item.split("=", 1)
            step, field = key.split(".")
            if step_cfg.step_type == step:
                setattr(step_cfg, field, type(getattr(step_cfg, field))(json.loads(value)))
        if system == "trafilatura" and step_cfg.step_type == "extract":
            steps.append(_trafilatura_step(DocumentStep))
        else:
            steps.append(step_cfg.build())
    by_id = {}
    from hanforge.corpus.ingest import document_id

    for f in files:
        by_id[document_id(f"{f.source}/{f.relpath}", 0)] = (f.source, f.relpath)
    data = None
    started = time.perf_counter()
    for step in steps:
        data = step.run(data, rank=0, world_size=1)
    with out.open("w", encoding="utf-8") as fh:
        for doc in data:
            site, relpath = by_id.get(doc.id, (doc.metadata.get("source"), doc.metadata.get("path")))
            fh.write(
                json.dumps(
                    {
                        "site": site,
                        "relpath": relpath,
                        "text": doc.text,
                        "drop_reason": doc.metadata.get("drop_reason"),
                        "num_nonkorean_lines": doc.metadata.get("num_nonkorean_lines"),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    print(f"{system}: {len(by_id)} pages in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def _trafilatura_step(base):
    from datatrove.pipeline.extractors import Trafilatura

    class TrafilaturaExtract(base):
        name = "extract"

        def __init__(self):
            super().__init__()
            self.extractor = Trafilatura()

        def process(self, doc):
            doc.metadata.pop("_raw", None)
            text = self.extractor.extract(doc.text) or ""
            if not text.strip():
                return "extract_empty"
            doc.text = text
            doc.metadata["_format"] = "text"
            return None

    return TrafilaturaExtract()


# --- scoring ------------------------------------------------------------------------------------


class _Grams:
    """The 4-grams of a reference, built on first use."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._set: set[str] | None = None

    def __contains__(self, gram: str) -> bool:
        if self._set is None:
            self._set = {self.ref[i : i + 4] for i in range(max(1, len(self.ref) - 3))}
        return gram in self._set


def is_content_line(line: str, ref: str, ref_grams: _Grams) -> bool:
    """Whether a kept line comes from the content area (whole, or 90% of its 4-grams)."""
    line = LIST_MARK.sub("", line)
    parts = [_norm(p) for p in PLACEHOLDER.split(line)]
    parts = [p for p in parts if p]
    if not parts:
        return True
    if all(p in ref for p in parts):
        return True
    grams = [p[i : i + 4] for p in parts for i in range(max(1, len(p) - 3))]
    return sum(g in ref_grams for g in grams) >= 0.9 * len(grams)


def score(rows: list[dict], refs: dict[tuple[str, str], str]) -> dict:
    present = {(r["site"], r["relpath"]) for r in rows}
    korean = {k for k, ref in refs.items() if k in present and hangul_ratio(ref) >= 0.5 and len(ref.split()) >= 25}
    kept_chars = noncontent_chars = latin = letters = 0
    ref_hangul = kept_hangul = kept_pages = 0
    reasons: Counter = Counter()
    samples: list[str] = []
    for row in rows:
        key = (row["site"], row["relpath"])
        if key not in refs:
            continue
        ref_raw = refs[key]
        ref = _norm(ref_raw)
        grams = _Grams(ref)
        is_korean = key in korean
        if is_korean:
            ref_hangul += len(HANGUL.findall(ref_raw))
        if row["drop_reason"] is not None:
            if is_korean:
                reasons[row["drop_reason"]] += 1
            continue
        page_hangul = 0
        letters += len(LETTER.findall(row["text"]))
        latin = latin + len(LATIN.findall(row["text"]))
        for line in row["text"].split("\n"):
            if not line.strip():
                continue
            kept_chars += len(line)
            if is_content_line(line, ref, grams):
                page_hangul += len(HANGUL.findall(line))
            else:
                noncontent_chars += len(line)
                if len(samples) < 12:
                    samples.append(f"{row['site']}/{row['relpath']}: {line[:90]}")
        if is_korean:
            kept_pages += 1
            kept_hangul += min(page_hangul, len(HANGUL.findall(ref_raw)))
    return {
        "korean_pages": len(korean),
        "korean_kept": kept_pages,
        "korean_recall": kept_pages / len(korean) if korean else None,
        "kept_chars": kept_chars,
        "noncontent_share": noncontent_chars / kept_chars if kept_chars else None,
        "hangul_kept": kept_hangul / ref_hangul if ref_hangul else None,
        "latin_share": latin / letters if letters else None,
        "korean_drop_reasons": dict(reasons.most_common()),
        "noncontent_samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="checkout of git main (today's pipeline)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--systems", default="main,trafilatura,branch-lines-off,branch")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="STEP.KEY=JSON",
        help="override a step setting of the branch systems, e.g. hangul_ratio.line_min_eojeols=8",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--sites-json", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args.worker, args.config, json.loads(args.sites_json), args.out, args.set)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    sites = unpack_sites(args.work)
    refs: dict[tuple[str, str], str] = {}
    for site, folder in sites.items():
        for page in sorted(folder.rglob("*.html")):
            refs[(site, str(page.relative_to(folder)))] = reference_text(site, page.read_bytes())
    results = {}
    for system in args.systems.split(","):
        repo = args.baseline if system == "main" else REPO
        if repo is None:
            print("skipping main: pass --baseline", file=sys.stderr)
            continue
        out = args.work / f"{system}.jsonl"
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                system,
                "--config",
                str(repo / "pipelines.toml"),
                "--sites-json",
                json.dumps({k: str(v) for k, v in sites.items()}),
                "--out",
                str(out),
                *[f"--set={s}" for s in args.set],
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        seconds = time.perf_counter() - started
        rows = [json.loads(line) for line in out.open(encoding="utf-8")]
        results[system] = {"all": score(rows, refs), "seconds": round(seconds, 1)}
        for site in sites:
            results[system][site] = score([r for r in rows if r["site"] == site], refs)
        if system.startswith("branch"):
            results[system]["nonkorean_lines_removed"] = sum(r["num_nonkorean_lines"] or 0 for r in rows)
    print(
        "| system | site | Korean pages | recall | non-content chars | Hangul kept | Latin letters kept | "
        "kept chars | Korean drops |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for system, res in results.items():
        for site in ["all", *sites]:
            s = res[site]
            drops = ", ".join(f"{k} {v}" for k, v in list(s["korean_drop_reasons"].items())[:4])
            print(
                f"| {system} | {site} | {s['korean_pages']} | {s['korean_recall']:.3f} | "
                f"{s['noncontent_share']:.2%} | {s['hangul_kept']:.3f} | {s['latin_share']:.1%} | "
                f"{s['kept_chars']:,} | {drops} |"
            )
    (args.work / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    for system, res in results.items():
        print(f"\n{system} ({res['seconds']}s) non-content samples:")
        for line in res["all"]["noncontent_samples"]:
            print("  ", line)
        if "nonkorean_lines_removed" in res:
            print(f"  non-Korean lines removed: {res['nonkorean_lines_removed']}")


if __name__ == "__main__":
    main()
