"""A small real website on loopback for the crawler tests (not a mock: a threaded HTTP server).

It serves the embedded LibreOffice Korean help tree under ``/help/ko/text/`` plus trap pages:
a robots.txt that disallows ``/help/ko/text/swriter/`` and ``/private/`` (with Crawl-delay and
a Sitemap line), a sitemap listing pages no other page links to, two CP949 pages (charset only
in the HTTP header / only in a meta tag) linking to Korean-named pages, a slow page, a page that
always answers 500, a page that answers 503 once, a redirect loop, an endless redirect chain, an
oversized page and a PNG. Every request is logged (path, start, end) and the peak number of
requests in flight is tracked. The server stops itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

CP949_TEXT = "똠방각하 뷁어 사전을 펼쳤다. 한국어 웹 문서는 아직도 CP949로 인코딩된 경우가 많습니다."
DISALLOWED_PREFIXES = ("/help/ko/text/swriter/", "/private/")
SPECIAL_PATHS = [
    "/special/slow.html",
    "/special/error500.html",
    "/special/flaky.html",
    "/special/loop-a",
    "/special/chain/0",
    "/special/big.html",
    "/special/image.png",
    "/private/secret.html",
]


def korean_path(name: str) -> str:
    """The percent-encoded (UTF-8) path of the Korean-named page ``/special/한글-<name>.html``."""
    return quote(f"/special/한글-{name}.html")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients hang up on purpose (caps)
        pass


class CrawlSite:
    """The loopback site; see the module docstring. Use as a context manager."""

    def __init__(
        self,
        sample_dir: Path,
        *,
        host: str = "127.0.0.1",
        num_linked: int = 110,
        num_sitemap_only: int = 6,
        specials: bool = True,
        page_delay: float = 0.0,
        slow_seconds: float = 60.0,
        big_bytes: int = 300_000,
        crawl_delay: float = 0.02,
        lifetime: float = 120.0,
    ) -> None:
        root = sample_dir / "libreoffice-help-ko"
        self.files = {"/help/ko/" + p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*.html"))}
        allowed = [p for p in self.files if not p.startswith(DISALLOWED_PREFIXES)]
        blocked = [p for p in self.files if p.startswith(DISALLOWED_PREFIXES)]
        self.sitemap_only = allowed[len(allowed) - num_sitemap_only :] if num_sitemap_only else []
        self.linked = allowed[: min(num_linked, len(allowed) - num_sitemap_only)] + blocked[:3]
        self.specials = specials
        self.page_delay = page_delay
        self.slow_seconds = slow_seconds
        self.big_bytes = big_bytes
        self.crawl_delay = crawl_delay
        self.lock = threading.Lock()
        self.log: list[tuple[str, float, float]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.hits: Counter = Counter()
        self.user_agents: set[str] = set()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                start = time.monotonic()
                slow = self.path == "/special/slow.html"
                with site.lock:
                    # The slow page is left out of the in-flight count: the crawler gives it up at its
                    # time limit and frees the slot, and the server only notices the closed socket
                    # later, so counting it would measure that delay, not the crawler.
                    site.in_flight += not slow
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                    site.hits[self.path] += 1
                    hit = site.hits[self.path]
                    site.user_agents.add(self.headers.get("User-Agent", ""))
                if slow:
                    self._wait_for_client_to_give_up()
                    with site.lock:
                        site.log.append((self.path, start, time.monotonic()))
                    return
                try:
                    status, headers, body = site.respond(self.path, hit)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with site.lock:
                        site.in_flight -= 1
                        site.log.append((self.path, start, time.monotonic()))

            def _wait_for_client_to_give_up(self) -> None:
                # Never answers: waits until the client closes the connection (its time limit),
                # so the test does not depend on how fast this machine is. Capped at slow_seconds.
                deadline = time.monotonic() + site.slow_seconds
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if readable:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                break
                        except OSError:
                            break
                self.close_connection = True

        self.server = _QuietServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._watchdog = threading.Timer(lifetime, self.server.shutdown)

    def __enter__(self) -> CrawlSite:
        self._thread.start()
        self._watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self._watchdog.cancel()
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def requested_paths(self) -> list[str]:
        with self.lock:
            return [p for p, _, _ in self.log]

    # -- content ---------------------------------------------------------------------------
    def _html(self, title: str, body: str, *, charset: str = "utf-8", meta: bool = True) -> bytes:
        head = f'<meta charset="{charset}">' if meta else ""
        return f"<html><head>{head}<title>{title}</title></head><body>{body}</body></html>".encode(charset)

    def index_links(self) -> list[str]:
        links = list(self.linked)
        if self.specials:
            links += SPECIAL_PATHS
        return links

    def respond(self, raw_path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        path = unquote(urlsplit(raw_path).path)
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            lines = [
                "User-agent: *",
                *(f"Disallow: {p}" for p in DISALLOWED_PREFIXES),
                f"Crawl-delay: {self.crawl_delay}",
                f"Sitemap: {self.url('/sitemap.xml')}",
                "",
            ]
            return 200, {"Content-Type": "text/plain"}, "\n".join(lines).encode()
        if path == "/sitemap.xml":
            entries = [*self.sitemap_only, "/help/ko/text/swriter/sitemap-disallowed.html"]
            locs = "".join(f"<url><loc>{self.url(p)}</loc></url>" for p in entries)
            body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
            return 200, {"Content-Type": "application/xml"}, body.encode()
        if path == "/":
            variants = [f'<a href="{p}">{p}</a>' for p in self.index_links()]
            # duplicates that normalize to URLs already linked, and links that must not be followed
            dup = self.linked[0]
            variants += [
                f'<a href="{dup}#section">same page</a>',
                f'<a href="{self.base.upper()}{dup}">upper-case scheme and host</a>',
                f'<a href="/help/ko/./text/../text/{dup[len("/help/ko/text/") :]}">dot segments</a>',
                '<a href="http://example.com/offsite.html">offsite</a>',
                '<a href="mailto:a@b.kr">mail</a>',
                '<a href="javascript:void(0)">js</a>',
            ]
            return 200, html, self._html("index", "<br>".join(variants))
        if path in self.files:
            if self.page_delay:
                time.sleep(self.page_delay)
            return 200, html, self.files[path].read_bytes()
        if path == "/special/cp949-header.html":
            body = f'<p>{CP949_TEXT}</p><a href="/special/한글-header.html">한글 문서</a>'
            return (
                200,
                {"Content-Type": "text/html; charset=euc-kr"},
                self._html("헤더", body, charset="cp949", meta=False),
            )
        if path == "/special/cp949-meta.html":
            body = f'<p>{CP949_TEXT}</p><a href="/special/한글-meta.html">한글 문서</a>'
            page = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"><title>메타</title></head><body>{body}</body></html>'
            return 200, {"Content-Type": "text/html"}, page.encode("cp949")
        if path in ("/special/한글-header.html", "/special/한글-meta.html"):
            return 200, html, self._html("한글", f"<p>{path} 페이지에 도착했습니다. 한국어 본문입니다.</p>")
        if path == "/special/error500.html":
            return 500, html, self._html("error", "<p>server error</p>")
        if path == "/special/flaky.html":
            if hit == 1:
                return 503, {**html, "Retry-After": "0"}, self._html("busy", "<p>try again</p>")
            return 200, html, self._html("flaky", "<p>두 번째 시도에 성공한 페이지입니다.</p>")
        if path == "/special/loop-a":
            return 302, {"Location": "/special/loop-b"}, b""
        if path == "/special/loop-b":
            return 302, {"Location": "/special/loop-a"}, b""
        if path.startswith("/special/chain/"):
            n = int(path.rsplit("/", 1)[1])
            return 302, {"Location": f"/special/chain/{n + 1}"}, b""
        if path == "/special/big.html":
            return 200, html, self._html("big", "<p>" + "가" * (self.big_bytes // 3) + "</p>")
        if path == "/special/image.png":
            return 200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 100
        if path == "/private/secret.html":
            return 200, html, self._html("secret", "<p>robots.txt forbids this</p>")
        if path.startswith("/to-other/"):
            return 302, {"Location": path[len("/to-other/") :]}, b""
        return 404, html, self._html("missing", "<p>not found</p>")
