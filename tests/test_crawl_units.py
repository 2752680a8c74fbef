"""Crawler building blocks without a network: URL normalization, links, address policy,
frontier recovery, sitemaps, WARC segments and config validation."""

from __future__ import annotations

import gzip

import pytest
from warcio.archiveiterator import ArchiveIterator

from hanforge.corpus.crawl import CrawlConfig
from hanforge.corpus.crawl.fetcher import AddressPolicy, FetchResult
from hanforge.corpus.crawl.frontier import Frontier
from hanforge.corpus.crawl.links import extract_links, in_scope, normalize_url
from hanforge.corpus.crawl.sitemaps import parse_sitemap
from hanforge.corpus.crawl.warc_output import WarcSegmentWriter
from hanforge.errors import ConfigError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/../b/./c.html?b=2&a=1#frag", "http://example.com/b/c.html?b=2&a=1"),
        ("https://example.com:443", "https://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("http://example.com/%7euser/a%2fb?q=%ed%95%9c", "http://example.com/~user/a%2Fb?q=%ED%95%9C"),
        ("http://x.kr/한글 문서.html", "http://x.kr/%ED%95%9C%EA%B8%80%20%EB%AC%B8%EC%84%9C.html"),
        ("http://user:pw@x.kr/", "http://x.kr/"),
        ("http://x.kr/100%", "http://x.kr/100%25"),
        ("http://한국.kr/", "http://xn--3e0b707e.kr/"),
        ("ftp://x.kr/file", None),
        ("mailto:a@b.kr", None),
        ("javascript:void(0)", None),
        ("file:///etc/passwd", None),
    ],
)
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected


def test_normalize_is_idempotent_and_resolves_relative():
    base = "http://h.kr/help/ko/text/scalc/01/page.html"
    url = normalize_url("../../shared/x.html#top", base=base)
    assert url == "http://h.kr/help/ko/text/shared/x.html"
    assert normalize_url(url) == url


def test_extract_links_base_nofollow_and_dedup():
    html = """<html><head><base href="../../"></head><body>
      <a href="ko/a.html">a</a><a href="ko/a.html#x">a again</a><a href="ko/b.html" rel="nofollow">b</a>
      <a href="mailto:x@y.kr">m</a><area href="/c.html"><iframe src="d.html"></iframe></body></html>"""
    links = extract_links(html, page_url="http://h.kr/help/ko/text/p.html")
    assert links == ["http://h.kr/help/ko/a.html", "http://h.kr/c.html", "http://h.kr/help/d.html"]
    assert (
        extract_links('<meta name="robots" content="noindex, nofollow"><a href="/x">x</a>', page_url="http://h.kr/")
        == []
    )


def test_scope_matches_domain_and_subdomains_only():
    assert in_scope("http://help.libreoffice.org/x", ["libreoffice.org"])
    assert in_scope("http://libreoffice.org/x", ["libreoffice.org"])
    assert not in_scope("http://evillibreoffice.org/x", ["libreoffice.org"])
    assert not in_scope("http://libreoffice.org.evil.kr/x", ["libreoffice.org"])


@pytest.mark.parametrize(
    ("address", "default_ok"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_address_policy(address, default_ok):
    assert AddressPolicy().allows(address) is default_ok
    if not default_ok and address not in ("0.0.0.0", "224.0.0.1"):
        assert AddressPolicy(allow_private=True).allows(address)
    narrow = AddressPolicy(allow_networks=["127.0.0.1/32"])
    assert narrow.allows("127.0.0.1") and not narrow.allows("127.0.0.2")


def test_config_validation_names_the_key(tmp_path):
    ok = {"seeds": ["http://x.kr/"], "output": str(tmp_path)}
    CrawlConfig.from_table(ok)
    for bad, key in [
        ({"seeds": ["file:///etc/passwd"]}, "seeds[0]"),
        ({"rate": 0}, "rate"),
        ({"allow_networks": ["nonsense"]}, "allow_networks[0]"),
        ({"max_pages": -1}, "max_pages"),
        ({"colour": 1}, "colour"),
    ]:
        with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
            CrawlConfig.from_table({**ok, **bad}, where="crawl")


def test_sitemap_index_urlset_and_gzip():
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>http://h.kr/s1.xml.gz</loc></sitemap></sitemapindex>"""
    urlset = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc> http://h.kr/a.html </loc></url><url><loc>http://h.kr/b.html</loc></url></urlset>"""
    assert parse_sitemap(index, max_bytes=10_000) == ([], ["http://h.kr/s1.xml.gz"])
    assert parse_sitemap(gzip.compress(urlset), max_bytes=10_000) == (["http://h.kr/a.html", "http://h.kr/b.html"], [])
    assert parse_sitemap(b"not xml at all <<<", max_bytes=10_000) == ([], [])
    xxe = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>
      <urlset><url><loc>&x;</loc></url></urlset>"""
    pages, _ = parse_sitemap(xxe, max_bytes=10_000)
    assert not any("root:" in p for p in pages)


def _result(url: str, body: bytes) -> FetchResult:
    return FetchResult(
        url=url,
        status=200,
        reason_phrase="OK",
        request_line="GET / HTTP/1.1",
        request_headers=[("Host", "h.kr")],
        response_headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "7"),
        ],
        body=body,
    )


def test_frontier_recovery_matches_completed_warcs(tmp_path):
    """Completed segments roll forward, the open one is requeued, nothing done is fetched again."""
    frontier = Frontier(tmp_path / "state" / "frontier.sqlite")
    urls = [f"http://h.kr/{i}.html" for i in range(6)]
    assert frontier.add(urls, depth=0) == 6 and frontier.add(urls[:2], depth=3) == 0
    writer = WarcSegmentWriter(tmp_path / "warc", frontier=frontier, prefix="t", max_bytes=1024, user_agent="ua")
    for url in urls[:4]:
        entry = frontier.claim()
        assert entry.url == url
        seq = writer.write(_result(url, "한국어 본문 ".encode() * 20))
        frontier.mark_written(url, segment=seq, http_status=200)
        if url == urls[1]:
            writer.complete()  # segment 0 holds 0 and 1
    frontier.claim()  # urls[4] is in flight when the process dies
    # simulate SIGKILL: segment 1 (urls 2, 3) is still a temporary file
    assert sorted(p.name for p in (tmp_path / "warc").iterdir())[0] == "t-00000.warc.gz"
    frontier.close()
    frontier = Frontier(tmp_path / "state" / "frontier.sqlite")
    recovered = frontier.recover(segment_exists=lambda name: (tmp_path / "warc" / name).is_file())
    assert recovered == {"num_rolled_forward": 0, "num_requeued": 3}
    assert frontier.urls_with_status("done") == urls[:2]
    assert frontier.urls_with_status("queued") == urls[2:]
    assert [frontier.claim().url for _ in range(4)] == urls[2:]


def test_frontier_rolls_forward_a_renamed_segment(tmp_path):
    frontier = Frontier(tmp_path / "f.sqlite")
    frontier.add(["http://h.kr/a"], depth=0)
    seq, name = frontier.open_segment(lambda s: f"x-{s}.warc.gz")
    frontier.claim()
    frontier.mark_written("http://h.kr/a", segment=seq, http_status=200)
    # killed after the rename, before commit_segment
    assert frontier.recover(segment_exists=lambda n: n == name) == {"num_rolled_forward": 1, "num_requeued": 0}
    assert frontier.urls_with_status("done") == ["http://h.kr/a"]
    assert frontier.completed_segments() == [name]


def test_warc_segments_rotate_and_store_decoded_bodies(tmp_path):
    frontier = Frontier(tmp_path / "f.sqlite")
    writer = WarcSegmentWriter(tmp_path / "warc", frontier=frontier, prefix="r", max_bytes=2048, user_agent="ua")
    bodies = {f"http://h.kr/{i}": f"<p>{i} 페이지</p>".encode() * 150 + bytes([i]) * 300 for i in range(5)}
    for url, body in bodies.items():
        frontier.add([url], depth=0)
        frontier.claim()
        frontier.mark_written(url, segment=writer.write(_result(url, body)), http_status=200)
        writer.rotate_if_full()
    writer.complete()
    files = sorted((tmp_path / "warc").iterdir())
    assert len(files) > 1 and all(f.name.endswith(".warc.gz") for f in files)
    seen = {}
    for f in files:
        with open(f, "rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                if rec.rec_type == "response":
                    assert rec.http_headers.get_header("Content-Encoding") is None
                    assert rec.http_headers.get_header("X-Crawler-Content-Encoding") == "gzip"
                    assert rec.http_headers.get_header("Content-Length") == str(
                        len(bodies[rec.rec_headers["WARC-Target-URI"]])
                    )
                    seen[rec.rec_headers["WARC-Target-URI"]] = rec.content_stream().read()
                    assert rec.digest_checker.passed is not False
    assert seen == bodies
    assert frontier.status_counts() == {"done": 5}


def test_segments_also_close_on_time(tmp_path):
    frontier = Frontier(tmp_path / "f.sqlite")
    writer = WarcSegmentWriter(
        tmp_path / "warc", frontier=frontier, prefix="s", max_bytes=10**9, max_seconds=1e-6, user_agent="ua"
    )
    frontier.add(["http://h.kr/a"], depth=0)
    frontier.claim()
    frontier.mark_written("http://h.kr/a", segment=writer.write(_result("http://h.kr/a", b"<p>a</p>")), http_status=200)
    assert writer.rotate_if_full() and frontier.urls_with_status("done") == ["http://h.kr/a"]
    assert not writer.rotate_if_full()  # nothing open


def test_read_seeds_from_urls_and_files(tmp_path):
    from hanforge.cli.crawl import read_seeds
    from hanforge.errors import InputError

    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("# Korean sites\nhttps://a.kr/\n\nhttps://b.kr/x  # comment\n", encoding="utf-8")
    assert read_seeds([str(seed_file), "http://c.kr/"]) == ["https://a.kr/", "https://b.kr/x", "http://c.kr/"]
    with pytest.raises(InputError, match="no-such-file"):
        read_seeds(["no-such-file"])


def test_cli_refuses_a_non_http_seed_with_a_clear_error(tmp_path, capsys):
    from hanforge.cli import main

    assert main(["crawl", "ftp://x.kr/", "--output", str(tmp_path / "c"), "--no-progress"]) == 2
    assert "seeds[0]" in capsys.readouterr().err
