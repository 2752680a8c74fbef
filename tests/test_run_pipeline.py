"""End-to-end tests of ``hanforge run``: accounting, determinism, resume, executors, config errors."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from hanforge.cli import main as cli_main
from hanforge.corpus.pipeline import load_pipelines
from hanforge.corpus.runner import run_pipeline
from hanforge.errors import ConfigError, OutputError

REPO = Path(__file__).resolve().parents[1]
PIPELINES = REPO / "pipelines.toml"


def default_cfg(tmp_path: Path, **changes):
    cfg = load_pipelines(PIPELINES).pipeline(None)
    return cfg.merge(dict(output=str(tmp_path / changes.pop("name", "out")), **changes))


def shard_bytes(output: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(output)): p.read_bytes()
        for sub in ("shards", "excluded")
        for p in sorted((output / sub).glob("*.parquet"))
    }


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The default pipeline on the embedded sample, 1 worker."""
    tmp = tmp_path_factory.mktemp("ref")
    cfg = default_cfg(tmp, workers=1)
    summary = run_pipeline(cfg)
    return cfg, summary


def test_every_sample_document_is_kept_or_excluded(reference_run, sample_html_files):
    cfg, summary = reference_run
    out = Path(cfg.output)
    kept = pl.read_parquet(out / "shards" / "*.parquet")
    excluded = (
        pl.read_parquet(out / "excluded" / "*.parquet") if list((out / "excluded").glob("*.parquet")) else kept.clear()
    )
    # the two COPYRIGHT files beside the pages are inputs too, counted as unsupported_file
    num_inputs = len(sample_html_files) + 2
    assert kept.height + excluded.height == num_inputs
    assert summary.stats["documents"] == {"input": num_inputs, "kept": kept.height, "excluded": excluded.height}
    assert summary.stats["drop_reasons"]["unsupported_file"] == 2
    # about 40% of the LibreOffice pages are untranslated English; of the Korean pages most survive.
    # English-only lines go before the length rules, so a page whose Korean part is shorter than
    # the length minimum is dropped as too_short (really short: what is left has < 100 chars)
    length = excluded.filter(pl.col("drop_step") == "length")
    assert ((length["num_chars"] < 100) | (length["num_eojeols"] < 25)).all()
    korean = excluded.filter(~pl.col("drop_step").is_in(["hangul_ratio", "length", "ingest"])).height + kept.height
    assert kept.height >= 0.8 * korean, (kept.height, korean)
    dropped_ratio = excluded.filter(pl.col("drop_reason") == "hangul_ratio")["hangul_ratio"]
    assert (dropped_ratio < 0.3).all()
    assert kept["drop_reason"].null_count() == kept.height
    assert excluded["drop_reason"].null_count() == 0 and excluded["drop_step"].null_count() == 0
    assert sum(summary.stats["drop_reasons"].values()) == excluded.height
    assert not any(r.startswith("error:") for r in summary.stats["drop_reasons"]), summary.stats["drop_reasons"]
    ids = pl.concat([kept["id"], excluded["id"]])
    assert ids.n_unique() == ids.len()
    # the writer kept the schema and the steps filled their signals
    assert kept["hangul_ratio"].null_count() == 0 and kept["lang"].unique().to_list() == ["ko"]
    assert (kept["num_chars"] == kept["text"].str.len_chars()).all()
    # provenance: every row, kept or excluded, names its input file (relative to its input folder)
    rows = pl.concat([kept.select("source", "path"), excluded.select("source", "path")])
    assert rows["path"].null_count() == 0
    on_disk = {
        (d.name, str(p.relative_to(d))) for d in (Path(i) for i in cfg.inputs) for p in d.rglob("*") if p.is_file()
    }
    assert set(rows.iter_rows()) == on_disk


def test_stats_and_manifest_are_written(reference_run):
    cfg, summary = reference_run
    out = Path(cfg.output)
    stats = json.loads((out / "stats.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    # input is counted by the reader as it reads; kept/excluded are the rows in the shards
    ingest = next(s for s in stats["steps"] if s["step"] == "ingest")
    assert stats["documents"]["input"] == ingest["counters"]["documents"] > 0
    assert stats["documents"]["input"] == stats["documents"]["kept"] + stats["documents"]["excluded"]
    assert "unaccounted" not in stats["documents"]
    step_names = [s["step"] for s in stats["steps"]]
    assert step_names[0] == "ingest" and step_names[-1] == "writer"
    for step in stats["steps"]:
        if step["step"] not in ("ingest", "writer"):
            assert step["docs_in"] == step["kept"] + step["dropped"], step
    assert manifest["kind"] == "text-shards" and len(manifest["config_fingerprint"]) == 64
    assert len(manifest["inputs"]) == stats["documents"]["input"]
    assert sum(manifest["shards"].values()) == stats["documents"]["input"]
    assert str(REPO) not in json.dumps(manifest), "manifest must not depend on where the repo lives"


def test_two_workers_and_reruns_give_identical_shards(reference_run, tmp_path):
    cfg, _ = reference_run
    reference = shard_bytes(Path(cfg.output))
    two = default_cfg(tmp_path, name="two", workers=2)
    run_pipeline(two)
    assert shard_bytes(Path(two.output)) == reference
    run_pipeline(two)  # rerun: every task is complete, nothing changes
    assert shard_bytes(Path(two.output)) == reference
    run_pipeline(two, overwrite=True)  # from scratch
    assert shard_bytes(Path(two.output)) == reference


def test_output_of_another_run_is_not_mixed(reference_run, tmp_path):
    cfg, _ = reference_run
    other = cfg.merge(dict(tasks=3))
    with pytest.raises(OutputError, match="different config"):
        run_pipeline(other)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path, sample_dir):
    # a bigger input (the sample 6 times over) so the kill lands mid-run
    data = tmp_path / "data"
    for i in range(6):
        shutil.copytree(sample_dir / "libreoffice-help-ko", data / f"copy{i}")
    args = [
        sys.executable,
        "-m",
        "hanforge",
        "run",
        str(data),
        "--config",
        str(PIPELINES),
        "--tasks",
        "8",
        "--workers",
        "1",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*args, "--output", str(killed)], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    completions = killed / "logs" / "completions"
    deadline = time.time() + 120
    while time.time() < deadline and (not completions.is_dir() or len(list(completions.iterdir())) < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(completions.iterdir()))
    assert 2 <= done < 8, f"kill landed after {done} of 8 tasks"
    for p in killed.rglob("*.parquet"):  # nothing under a final name is unreadable
        pq.read_metadata(p)
    subprocess.run([*args, "--output", str(killed)], cwd=tmp_path, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run([*args, "--output", str(clean)], cwd=tmp_path, check=True, capture_output=True)
    assert shard_bytes(killed) == shard_bytes(clean)
    assert (
        json.loads((killed / "stats.json").read_text())["documents"]
        == json.loads((clean / "stats.json").read_text())["documents"]
    )


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('tasks = "four"', "pipelines.p.tasks: expected an integer"),
        ("colour = 1", "pipelines.p.colour: unknown key"),
        ('steps = [{ type = "nope" }]', "pipelines.p.steps[0].type: unknown step type 'nope'"),
        ('steps = [{ type = "length", min_chars = "x" }]', "pipelines.p.steps[0].min_chars"),
        ('executor = "mpi"', "pipelines.p.executor: 'mpi' is not one of"),
    ],
)
def test_bad_config_fails_before_work_naming_the_key(tmp_path, snippet, message):
    config = tmp_path / "p.toml"
    config.write_text(f'[pipelines.p]\ninputs = ["sample:debian-faq-ko"]\n{snippet}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_pipelines(config)
    assert message in str(err.value)


def test_cli_run_and_inspect(tmp_path, capsys, sample_dir):
    out = tmp_path / "cli"
    code = cli_main(["run", str(sample_dir / "debian-faq-ko"), "--config", str(PIPELINES), "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "documents in" in printed and "kept" in printed
    assert cli_main(["inspect", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows: 18" in printed and "hangul_ratio" in printed and "drop reasons" in printed
    assert cli_main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_bad_inputs_through_the_whole_pipeline(tmp_path, sample_html_files):
    """Truncated and malformed WARCs, invalid UTF-8, wrong labels, empty, 50 MB, binary and
    unreadable files: the run finishes, every bad document is counted, the good ones come out."""
    from ingest_fixtures import Page, sample_pages, write_warc

    bad = tmp_path / "bad"
    bad.mkdir()
    pages = sample_pages(sample_html_files, 4, start=0)
    offsets = write_warc(bad / "cut.warc.gz", pages)
    (bad / "cut.warc.gz").write_bytes((bad / "cut.warc.gz").read_bytes()[: offsets[3] + 100])
    korean = "똠방각하와 뷁은 확장 완성형 음절입니다. 한국어 문서가 깨지지 않고 그대로 남아야 합니다. " * 20
    cp949 = f"<html><body><p>{korean}</p></body></html>".encode("cp949")
    write_warc(
        bad / "labels.warc.gz",
        [
            Page(url="https://ko.example.org/euckr", body=cp949, content_type="text/html; charset=euc-kr"),
            Page(url="https://ko.example.org/lies", body=cp949, content_type="text/html; charset=utf-8"),
        ],
    )
    (bad / "invalid-utf8.html").write_bytes(b"<html><body>" + b"\xff\xfe\xfa" * 5000 + b"</body></html>")
    (bad / "empty.html").write_bytes(b"")
    with open(bad / "huge.html", "wb") as fh:  # 50 MB single page
        fh.write(b"<html><body>" + "가".encode() * (50_000_000 // 3) + b"</body></html>")
    (bad / "binary.html").write_bytes(bytes(range(256)) * 400)
    (bad / "locked").mkdir()
    (bad / "locked" / "page.html").symlink_to(bad / "missing-target.html")
    (bad / "good.html").write_bytes(sample_html_files[5].read_bytes())

    cfg = default_cfg(tmp_path, name="out", inputs=[str(bad)], tasks=2)
    summary = run_pipeline(cfg)
    docs = summary.stats["documents"]
    assert docs["input"] == docs["kept"] + docs["excluded"]
    reasons = summary.stats["drop_reasons"]
    for expected in ("read_error:truncated_gzip", "empty_file", "too_large", "binary_content"):
        assert reasons.get(expected, 0) >= 1, (expected, reasons)
    assert any(r.startswith("read_error:") and r != "read_error:truncated_gzip" for r in reasons), reasons
    assert not any(r.startswith("error:") for r in reasons), reasons
    rows = pl.read_parquet(Path(cfg.output) / "*" / "*.parquet")
    assert rows.height == docs["input"] and rows["id"].n_unique() == rows.height
    # (the repeated test sentence is then dropped by the repetition filter, as it should be)
    cp949_docs = rows.filter(pl.col("url").str.starts_with("https://ko.example.org/"))
    assert cp949_docs.height == 2, "both cp949 pages (right and wrong label) decode"
    assert set(cp949_docs["drop_step"].to_list()) <= {None, "repetition"}
    assert all("똠방각하와 뷁은" in t for t in cp949_docs["text"])
    assert set(cp949_docs["charset"]) == {"cp949"}
