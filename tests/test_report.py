"""hanforge report: real outputs of run → dedup → mix → tokenize on the embedded sample (plus a few
planted JSONL documents: PII, an exact duplicate pair, markup that must stay text), their numbers
checked against the shards, and the page checked in a real headless Chromium (no console
messages, every plot has marks, the script ran, a screenshot is written).

Set HANFORGE_TEST_ARTIFACTS=DIR to keep the screenshots and pages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from token_helpers import train_tiny_tokenizer

from hanforge.cli import main as cli_main
from hanforge.report.aggregate import CLASSES, aggregate
from hanforge.report.output_folder import open_output
from hanforge.report.page import build_report

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines.toml"
XSS = "<script>document.body.setAttribute('data-xss','1')</script>"
KIMCHI = (
    "한국의 전통 발효 음식인 김치는 지역과 계절에 따라 재료와 담그는 방법이 크게 다릅니다. 남쪽 지방에서는 젓갈을 "
    "넉넉히 넣어 맛이 진하고 짠 편이며, 북쪽 지방에서는 국물을 많이 잡아 시원하고 담백한 맛을 냅니다.\n"
    "김장은 보통 늦가을에 이웃과 가족이 함께 모여 하는데, 이 풍습은 인류무형문화유산으로도 등재되었습니다. "
    "최근에는 집에서 직접 김치를 담그는 가정이 줄었지만 김장 문화를 체험하려는 외국인 관광객은 오히려 늘고 있습니다."
)
PLANTED = [
    {
        "url": "https://example.org/library?a=1&b=<2>",
        "text": "서울시 마포구에 있는 작은 도서관은 올해 봄부터 주민을 위한 한국어 글쓰기 강좌를 열었습니다. 강좌는 매주 "
        "화요일 저녁 일곱 시에 시작하며 누구나 무료로 참여할 수 있습니다.\n신청이나 문의는 담당자에게 전화 "
        "010-2345-6789 또는 전자우편 minsu.kim@example.com 으로 하면 됩니다. 지난 학기에는 스무 명이 넘는 주민이 "
        "참여해 각자 쓴 수필을 모아 작은 문집을 펴냈습니다.\n도서관 측은 다음 학기에 어린이를 위한 동화 쓰기 "
        "수업도 마련할 계획이라고 밝혔습니다.",
    },
    {"url": "https://example.org/kimchi-1", "text": KIMCHI},
    {"url": "https://example.org/kimchi-2", "text": KIMCHI},
    {"url": "https://example.org/xss", "text": f"{XSS} 짧은 글입니다."},
]


def _write_jsonl(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in PLANTED), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, sample_dir):
    """run (default config), run (stricter Hangul ratio), dedup, tokenizer, mix, tokenize."""
    root = tmp_path_factory.mktemp("report")
    inputs = [str(sample_dir / "debian-faq-ko"), str(_write_jsonl(root / "planted" / "planted.jsonl"))]
    out = {
        "run": root / "run",
        "strict": root / "strict",
        "dedup": root / "dedup",
        "mix": root / "mix",
        "tokens": root / "tokens",
    }
    assert cli_main(["run", *inputs, "--config", str(PIPELINES), "--output", str(out["run"]), "--tasks", "2"]) == 0
    strict = root / "strict.toml"
    strict.write_text(
        PIPELINES.read_text(encoding="utf-8").replace("threshold = 0.3\n", "threshold = 0.7\n", 1), encoding="utf-8"
    )
    assert cli_main(["run", *inputs, "--config", str(strict), "--output", str(out["strict"]), "--tasks", "2"]) == 0
    (root / "dedup.toml").write_text("[dedup]\ngraph_partitions = 1\n", encoding="utf-8")
    assert (
        cli_main(["dedup", str(out["run"]), "--output", str(out["dedup"]), "--config", str(root / "dedup.toml")]) == 0
    )
    tok = train_tiny_tokenizer(out["dedup"], root / "tok", vocab_size=1500)
    (root / "mix.toml").write_text(
        f'[mix]\noutput = "{out["mix"]}"\ntotal = 6000\ntokenizer = "{tok}"\nmax_epochs = 4.0\n'
        f'[mix.sources.faq]\npath = "{out["dedup"]}"\nratio = 0.7\n'
        f'[mix.sources.strict]\npath = "{out["strict"]}"\nratio = 0.3\n',
        encoding="utf-8",
    )
    assert cli_main(["mix", "--config", str(root / "mix.toml")]) == 0
    assert (
        cli_main(
            ["tokenize", str(out["mix"]), "--tokenizer", str(tok), "--seq-len", "256", "--output", str(out["tokens"])]
        )
        == 0
    )
    return out


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(page: Path, shot: Path, *, height: int) -> tuple[str, str]:
    """Load ``page`` in headless Chromium: (DOM after scripts ran, console log lines); screenshot to ``shot``."""
    browser = _chromium()
    base = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={shot.parent / 'chromium-profile'}",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", f"--screenshot={shot}", f"--window-size=1400,{height}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    return dom.stdout, "\n".join(console)


def _keep_artifacts(*paths: Path) -> None:
    target = os.environ.get("HANFORGE_TEST_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for p in paths:
            shutil.copy2(p, Path(target) / p.name)


def _plots(dom: str) -> list[tuple[str, int, int]]:
    """(caption, data-points, SVG marks) of every plot in the DOM."""
    out = []
    for chunk in dom.split('<figure class="plot"')[1:]:
        body = chunk.split("</figure>")[0]
        points = int(re.match(r'\s*data-points="(\d+)"', body).group(1))
        caption = re.search(r"<figcaption>(.*?)</figcaption>", body).group(1)
        out.append((caption, points, body.count('class="mark"')))
    return out


@pytest.mark.skipif(
    _chromium() is None,
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium fonts-noto-cjk)",
)
def test_report_renders_in_headless_chromium(outputs, tmp_path):
    page = build_report(outputs["run"], out=tmp_path / "report-run.html")
    compare = build_report(outputs["run"], compare=outputs["strict"], out=tmp_path / "report-compare.html")
    for html, shot, height in (
        (page, tmp_path / "report-run.png", 2600),
        (compare, tmp_path / "report-compare.png", 1800),
    ):
        text = html.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text)  # self-contained: nothing fetched at view time
        dom, console = _browse(html, shot, height=height)
        assert console == ""  # no errors, no warnings, no log lines at all
        assert 'data-script="ok"' in dom  # the page's script ran to its end
        assert "data-xss" not in dom.split("<body")[1].split(">")[0]  # planted markup stayed text ...
        assert "&lt;script&gt;document.body.setAttribute('data-xss','1')&lt;/script&gt;" in dom  # ... and is shown
        plots = _plots(dom)
        assert len(plots) >= 12
        for caption, points, marks in plots:
            assert points > 0 and marks >= points, caption  # every plot draws its non-zero values
        assert shot.stat().st_size > 20_000
        _keep_artifacts(html, shot)
    # Korean samples shown as text: the strict run (Hangul ratio >= 0.7) drops Korean pages, and the
    # side-by-side page shows its samples
    assert len(re.findall("[가-힣]", compare.read_text(encoding="utf-8"))) > 300


def test_numbers_match_the_shards(outputs):
    agg = aggregate(open_output(outputs["run"]))
    stats = json.loads((outputs["run"] / "stats.json").read_text(encoding="utf-8"))
    rows = pl.concat([pl.read_parquet(outputs["run"] / "shards"), pl.read_parquet(outputs["run"] / "excluded")])
    kept = rows.filter(pl.col("drop_reason").is_null())
    assert (agg.num_docs, agg.num_kept) == (stats["documents"]["input"], stats["documents"]["kept"])
    assert agg.chars_kept == kept["num_chars"].sum() == stats["bytes"]["kept_text_chars"]
    assert dict(zip(agg.reasons["drop_reason"], agg.reasons["num_docs"])) == stats["drop_reasons"]
    by_step = {s["step"]: s for s in stats["steps"]}
    for step in agg.funnel:  # the funnel from the shards agrees with the runner's own counters
        assert (step.docs_in, step.docs_dropped) == (by_step[step.step]["docs_in"], by_step[step.step]["dropped"])
    assert agg.funnel[-1].chars_out == agg.chars_kept
    types = kept["pii_types"].explode().drop_nulls().to_list()
    assert agg.pii_docs == {t: types.count(t) for t in set(types)} and agg.pii_docs["PHONE"] >= 1  # the planted one
    assert agg.pii_spans == {k: v for k, v in stats["pii"].items() if k != "docs_with_pii"}
    # the PII step scrubs kept and excluded rows alike; the report's per-type documents are the kept ones
    assert set(agg.pii_docs) <= set(agg.pii_spans) and stats["pii"]["docs_with_pii"] == (rows["num_pii"] > 0).sum()
    for column, hist in agg.signals.items():  # every value counted once, in its class
        values = rows.filter(pl.col(column).is_not_null() & pl.col(column).is_not_nan())
        assert sum(hist.counts["kept"]) == values["drop_reason"].is_null().sum(), column
        assert sum(sum(hist.counts[c]) for c in CLASSES) == values.height, column
    ratio = agg.signals["hangul_ratio"]
    assert [lim.value for lim in ratio.limits] == [0.3]
    dropped_here = rows.filter(pl.col("drop_reason") == "hangul_ratio").height
    assert sum(ratio.counts["dropped by this rule"]) == dropped_here > 0


def test_dedup_mix_and_token_outputs(outputs, tmp_path):
    dedup = aggregate(open_output(outputs["dedup"]))
    assert dedup.folder.kind == "dedup"
    assert dedup.largest_clusters["dup_cluster_size"].to_list() == [2]  # the planted pair
    assert dedup.largest_clusters["excerpt"][0].startswith("한국의 전통 발효 음식인 김치는")
    assert dict(zip(dedup.reasons["drop_reason"], dedup.reasons["num_docs"])) == {"exact_duplicate": 1}
    tokens = aggregate(open_output(outputs["tokens"]))
    manifest = json.loads((outputs["tokens"] / "manifest.json").read_text(encoding="utf-8"))
    assert tokens.tokens["num_rows"] == manifest["num_rows"]
    assert tokens.tokens["num_pad_tokens"] == manifest["num_pad_tokens"]
    assert tokens.tokens["packing_efficiency"] == pytest.approx(manifest["packing_efficiency"])
    edges, counts = tokens.doc_len_hist
    assert sum(counts) == tokens.tokens["num_segments"] > 0
    for name in ("dedup", "mix", "tokens"):
        page = build_report(outputs[name], out=tmp_path / f"{name}.html").read_text(encoding="utf-8")
        for caption, points, marks in _plots(page):
            assert points > 0 and marks >= points, (name, caption)
    mix_page = (tmp_path / "mix.html").read_text(encoding="utf-8")
    mix_manifest = json.loads((outputs["mix"] / "manifest.json").read_text(encoding="utf-8"))
    assert "tokens per source" in mix_page and f"{mix_manifest['sources']['faq']['achieved']:,}" in mix_page
    assert "clusters by size" in (tmp_path / "dedup.html").read_text(encoding="utf-8")
    assert "packing efficiency" in (tmp_path / "tokens.html").read_text(encoding="utf-8")


def test_compare_highlights_what_differs(outputs, tmp_path):
    html = build_report(outputs["run"], compare=outputs["strict"], out=tmp_path / "c.html").read_text(encoding="utf-8")
    rows = {re.sub("<.*?>", "", r.split("</td>")[0]): r for r in html.split("<tr><td>")[1:]}
    assert 'class="diff"' in rows["hangul_ratio"]  # the stricter threshold drops more here ...
    assert 'class="diff"' not in rows["decode"]  # ... and nothing changes before it
    assert "hangul_ratio.threshold" not in html and "threshold ≥ 0.7" in html and "threshold ≥ 0.3" in html


def test_cli_errors_are_one_line(tmp_path, capsys, outputs):
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing: no such folder" in err
    (tmp_path / "empty").mkdir()
    assert cli_main(["report", str(tmp_path / "empty")]) == 2
    assert "no text shards" in capsys.readouterr().err
    (tmp_path / "broken" / "shards").mkdir(parents=True)
    (tmp_path / "broken" / "shards" / "00000-00000.parquet").write_bytes(b"PAR1 not parquet")
    assert cli_main(["report", str(tmp_path / "broken")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "broken: a shard cannot be read" in err
    assert cli_main(["report", str(outputs["run"]), "--out", str(tmp_path / "r.html")]) == 0
    assert "report written to" in capsys.readouterr().out and (tmp_path / "r.html").is_file()
