"""The crawler against a real HTTP server on loopback (tests/crawl_site.py): robots, limits,
traps, address safety, resume after SIGKILL, and re-ingest of its WARCs by ``hanforge run``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest
from crawl_site import CP949_TEXT, DISALLOWED_PREFIXES, CrawlSite, korean_path
from warcio.archiveiterator import ArchiveIterator

from hanforge.atomic import TMP_MARKER
from hanforge.corpus.crawl import CrawlConfig, run_crawl
from hanforge.corpus.crawl.frontier import Frontier

REPO = Path(__file__).resolve().parents[1]
HANFORGE = str(Path(sys.executable).with_name("hanforge"))
MAX_RETRIES = 1
MAX_REDIRECTS = 3


def _config(site: CrawlSite, out: Path, **overrides) -> CrawlConfig:
    table = dict(
        seeds=[site.url("/")],
        output=str(out),
        max_depth=1,
        max_pages=0,
        rate=1000.0,
        concurrency=6,
        per_host_concurrency=2,
        max_seconds=2.0,  # a local page takes milliseconds; the slow page never answers
        max_bytes=100_000,
        max_retries=MAX_RETRIES,
        retry_backoff=0.05,
        max_redirects=MAX_REDIRECTS,
        allow_private=True,
        warc_max_bytes=40_000,
        progress=False,
    )
    table.update(overrides)
    return CrawlConfig.from_table(table)


def warc_responses(warc_dir: Path) -> list[tuple[str, int, bytes]]:
    """(url, status, payload) of every response record, checking digests and request pairing."""
    out = []
    for path in sorted(warc_dir.iterdir()):
        assert path.name.endswith(".warc.gz") and TMP_MARKER not in path.name, path.name
        requests, responses = {}, {}
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                if rec.rec_type == "request":
                    requests[rec.rec_headers["WARC-Concurrent-To"]] = rec.rec_headers["WARC-Target-URI"]
                elif rec.rec_type == "response":
                    body = rec.content_stream().read()
                    assert rec.digest_checker.passed is not False
                    responses[rec.rec_headers["WARC-Record-ID"]] = (
                        rec.rec_headers["WARC-Target-URI"],
                        rec.http_headers.get_statuscode(),
                        body,
                    )
        assert {rid: r[0] for rid, r in responses.items()} == requests  # one request per response
        out.extend(responses.values())
    return out


@pytest.fixture(scope="module")
def crawled(sample_dir, tmp_path_factory):
    """One full crawl of the trap site; returns (site, config, summary)."""
    out = tmp_path_factory.mktemp("crawl")
    with CrawlSite(sample_dir) as site:
        cfg = _config(
            site,
            out,
            seeds=[site.url("/"), site.url("/special/cp949-header.html"), site.url("/special/cp949-meta.html")],
        )
        summary = run_crawl(cfg)
    return site, cfg, summary


def test_robots_obeyed_and_nothing_fetched_twice(crawled):
    site, cfg, summary = crawled
    hits = {unquote(p): n for p, n in site.hits.items()}
    assert not [p for p in hits if p.startswith(DISALLOWED_PREFIXES)]
    num_disallowed = sum(p.startswith(DISALLOWED_PREFIXES) for p in site.index_links()) + 1  # + sitemap entry
    assert summary.reason_counts["disallowed/robots"] == num_disallowed
    retried = {
        "/special/flaky.html": 2,
        "/special/error500.html": 1 + MAX_RETRIES,
        "/special/slow.html": 1 + MAX_RETRIES,
    }
    assert {p: n for p, n in hits.items() if n != 1} == retried
    assert "http://example.com/offsite.html" not in Frontier(cfg.state_dir / "frontier.sqlite").urls_with_status(
        "queued"
    )


def test_depth_redirect_size_type_and_time_limits_held(crawled):
    site, cfg, summary = crawled
    hits = {unquote(p) for p in site.hits}
    allowed_pages = [p for p in site.index_links() + site.sitemap_only if not p.startswith(DISALLOWED_PREFIXES)]
    expected = {
        "/",
        "/robots.txt",
        "/sitemap.xml",
        "/special/cp949-header.html",
        "/special/cp949-meta.html",
        unquote(korean_path("header")),
        unquote(korean_path("meta")),
        "/special/loop-b",
        *allowed_pages,
        *(f"/special/chain/{i}" for i in range(MAX_REDIRECTS + 1)),
    }
    assert hits == expected  # depth 1 held: links of the help pages (depth 2) never requested
    assert summary.events["redirects_over_cap"] == 1 and summary.events["redirects_to_known_url"] == 1
    reasons = summary.reason_counts
    assert reasons["failed/too_large"] == 1 and reasons["failed/timeout"] == 1
    assert reasons["failed/content_type:image/png"] == 1 and reasons["failed/http_500"] == 1
    assert site.max_in_flight <= cfg.per_host_concurrency
    starts = sorted(start for _, start, _ in site.log)
    # Crawl-delay 0.02 s from robots.txt beats rate=1000/s: starts are spread at least that far
    assert starts[-1] - starts[0] >= (len(starts) - 1) * site.crawl_delay - 0.05


def test_warc_output_valid_and_complete(crawled):
    site, cfg, summary = crawled
    responses = warc_responses(cfg.warc_dir)
    urls = [u for u, _, _ in responses]
    assert len(urls) == len(set(urls))
    frontier = Frontier(cfg.state_dir / "frontier.sqlite")
    assert sorted(urls) == sorted(frontier.urls_with_status("done"))
    assert set(frontier.status_counts()) <= {"done", "failed", "disallowed"}
    assert len(summary.warc_files) == len(list(cfg.warc_dir.iterdir())) > 1  # rotated
    by_path = {unquote(u[len(site.base) :]): body for u, _, body in responses}
    assert "/special/big.html" not in by_path and "/special/image.png" not in by_path
    assert by_path["/special/cp949-meta.html"].decode("cp949").count("똠방각하") == 1  # bytes as served
    for path in site.sitemap_only:
        assert by_path[path] == site.files[path].read_bytes()
    report = json.loads((cfg.output_path / "crawl.json").read_text(encoding="utf-8"))
    assert report["status_counts"] == summary.status_counts and str(cfg.output_path) not in json.dumps(report)


def test_hanforge_run_reingests_the_warcs_with_korean_intact(crawled, tmp_path):
    site, cfg, summary = crawled
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            HANFORGE,
            "run",
            str(cfg.warc_dir),
            "--config",
            "pipelines.toml",
            "--output",
            str(out),
            "--tasks",
            "1",
            "--verbose",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = []
    for sub in ("shards", "excluded"):
        for shard in sorted((out / sub).glob("*.parquet")):
            rows.extend(pq.read_table(shard, columns=["url", "text", "drop_reason"]).to_pylist())
    assert len(rows) == len(warc_responses(cfg.warc_dir))  # every archived response is a row
    by_url = {r["url"]: r for r in rows}
    for name in ("header", "meta"):  # CP949 pages (charset only in the header / only in a meta tag)
        text = by_url[site.url(f"/special/cp949-{name}.html")]["text"]
        assert CP949_TEXT in text, text
    kept = [r for r in rows if r["drop_reason"] is None]
    assert kept and all(any("가" <= ch <= "힣" for ch in r["text"]) for r in kept)


def test_max_pages_is_a_hard_limit_and_raising_it_resumes(sample_dir, tmp_path):
    with CrawlSite(sample_dir, specials=False, num_sitemap_only=0) as site:
        first = run_crawl(_config(site, tmp_path, max_pages=10, sitemaps=False))
        pages = [p for p in site.requested_paths() if p != "/robots.txt"]
        assert len(pages) == 10 == first.num_fetched_this_run
        second = run_crawl(_config(site, tmp_path, max_pages=15, sitemaps=False))
        pages_after = [p for p in site.requested_paths() if p != "/robots.txt"]
        assert second.num_fetched_this_run == 5 and len(pages_after) == 15 == len(set(pages_after))
        assert Frontier(tmp_path / "state" / "frontier.sqlite").num_fetched() == 15


def test_private_and_loopback_refused_by_default(sample_dir, tmp_path):
    with CrawlSite(sample_dir, specials=False) as site:
        port = site.base.rsplit(":", 1)[1]
        cfg = _config(
            site,
            tmp_path,
            allow_private=False,
            seeds=[site.url("/"), f"http://localhost:{port}/"],
            allow_domains=["127.0.0.1", "localhost"],
        )
        summary = run_crawl(cfg)
        assert site.hits == Counter()
        assert summary.status_counts == {"disallowed": 2}
        assert summary.reason_counts == {"disallowed/blocked_address": 2}


def test_redirect_to_a_refused_address_is_not_followed(sample_dir, tmp_path):
    """Only 127.0.0.1 is allowed; a redirect to a server on 127.0.0.2 is refused after resolution."""
    with (
        CrawlSite(sample_dir, specials=False) as site,
        CrawlSite(sample_dir, specials=False, host="127.0.0.2") as other,
    ):
        target = other.url("/")
        cfg = _config(
            site,
            tmp_path,
            allow_private=False,
            allow_networks=["127.0.0.1/32"],
            sitemaps=False,
            seeds=[site.url("/to-other/" + target)],
            allow_domains=["127.0.0.1", "127.0.0.2"],
        )
        summary = run_crawl(cfg)
        assert other.hits == Counter() and site.hits[f"/to-other/{target}"] == 1
        assert summary.reason_counts == {"disallowed/blocked_address": 1}
        assert Frontier(cfg.state_dir / "frontier.sqlite").urls_with_status("done") == [site.url("/to-other/" + target)]


def test_resume_after_sigkill_continues_without_refetching(sample_dir, tmp_path):
    with CrawlSite(sample_dir, specials=False, page_delay=0.03) as site:
        out = tmp_path / "killed"
        cmd = [
            HANFORGE,
            "crawl",
            site.url("/"),
            "--output",
            str(out),
            "--max-depth",
            "1",
            "--rate",
            "1000",
            "--concurrency",
            "2",
            "--per-host-concurrency",
            "2",
            "--allow-private",
            "--warc-max-bytes",
            "20000",
            "--no-progress",
            "--max-pages",
            "0",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "warc").glob("*.warc.gz"))) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "crawl ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.1)  # let the server log the last requests
        before_kill = Counter(site.requested_paths())
        finished = sorted((out / "warc").glob("*.warc.gz"))
        archived_before = {u for u, _, _ in warc_responses_of(finished)}  # every finished file is whole
        assert archived_before and len(before_kill) - 1 >= len(archived_before)  # robots.txt + pages

        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        after = Counter(site.requested_paths()) - before_kill
        refetched = {site.url(p) for p in after}
        assert not refetched & archived_before  # nothing in a completed WARC is fetched again
        assert not [p for p, n in after.items() if p != "/robots.txt" and n > 1]
        final = [u for u, _, _ in warc_responses(out / "warc")]
        assert len(final) == len(set(final))

        # the same set of pages as a crawl that was never interrupted
        clean = run_crawl(_config(site, tmp_path / "clean", concurrency=2, sitemaps=True))
        assert sorted(u.split("/", 3)[3] for u in final) == sorted(
            u.split("/", 3)[3] for u, _, _ in warc_responses(tmp_path / "clean" / "warc")
        )
        assert clean.status_counts.get("done") == len(final)


def warc_responses_of(files: list[Path]) -> list[tuple[str, int, bytes]]:
    out = []
    for path in files:
        with open(path, "rb") as fh:
            out.extend(
                (r.rec_headers["WARC-Target-URI"], 0, b"") for r in ArchiveIterator(fh) if r.rec_type == "response"
            )
    return out


def test_sigterm_stops_gracefully_with_a_complete_warc(sample_dir, tmp_path):
    with CrawlSite(sample_dir, specials=False, page_delay=0.03) as site:
        out = tmp_path / "stopped"
        cmd = [
            HANFORGE,
            "crawl",
            site.url("/"),
            "--output",
            str(out),
            "--max-depth",
            "1",
            "--rate",
            "1000",
            "--allow-private",
            "--no-progress",
            "--user-agent",
            "hanforge-test/1.0",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(site.hits) < 10:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
        assert proc.returncode == 1 and "interrupted" in stdout
        assert site.user_agents == {"hanforge-test/1.0"}
        archived = [u for u, _, _ in warc_responses(out / "warc")]
        frontier = Frontier(out / "state" / "frontier.sqlite")
        assert sorted(archived) == sorted(frontier.urls_with_status("done")) and archived
        assert frontier.num_queued() > 0
