"""Typed, validated settings of one crawl (``hanforge crawl`` flags map onto :class:`CrawlConfig`)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from hanforge.config import ConfigBase, require
from hanforge.errors import ConfigError

DEFAULT_USER_AGENT = "hanforge-crawler/0.1 (+https://github.com/hanforge/hanforge)"
DEFAULT_CONTENT_TYPES = ["text/html", "application/xhtml+xml"]


@dataclasses.dataclass(frozen=True)
class CrawlConfig(ConfigBase):
    """One crawl: where to start, what is in scope, how polite to be, where WARCs go.

    Fields:
        seeds: start URLs (http or https).
        output: crawl folder; WARCs go to ``<output>/warc/``, the frontier to
            ``<output>/state/frontier.sqlite``. Rerunning with the same output resumes.
        max_pages: most URLs fetched in total over all runs of this crawl (0 = no limit).
            Robots-disallowed URLs are not fetched and do not count.
        max_depth: most link hops from a seed (seeds and sitemap entries are depth 0).
        allow_domains: hosts in scope: a host matches ``d`` when it is ``d`` or ends with
            ``.d``. Empty: the seeds' hosts.
        rate: most requests per second per host (robots.txt Crawl-delay can only slow it down).
        concurrency: requests in flight over all hosts.
        per_host_concurrency: requests in flight per host.
        user_agent: the User-Agent sent, and the agent name robots.txt rules are matched with.
        timeout: seconds for connecting and for each read.
        max_seconds: wall-clock cap on one response, headers to last byte.
        max_bytes: cap on one (decoded) response body; bigger responses are dropped.
        max_retries: extra attempts after a 5xx/429 status, a timeout or a connection error.
        retry_backoff: seconds before the first retry; doubles on each further retry.
        max_redirects: most redirect hops followed from one original URL.
        content_types: media types kept (compared without parameters); others are dropped
            after the headers, before the body is read.
        sitemaps: discover URLs from robots.txt ``Sitemap:`` lines and ``/sitemap.xml``.
        allow_private: allow private, loopback, link-local and other non-global addresses.
        allow_networks: CIDR ranges allowed even though non-global (narrower than
            ``allow_private``).
        warc_max_bytes: a WARC file is closed and a new one started after this many bytes.
        warc_max_seconds: a WARC file is also closed this many seconds after it was opened, which
            bounds the work a SIGKILL can lose (URLs in an unclosed file are fetched again).
        warc_prefix: WARC file names are ``<prefix>-<NNNNN>.warc.gz``.
        progress: show a live progress display.
    """

    seeds: list[str] = dataclasses.field(default_factory=list)
    output: str = ""
    max_pages: int = 1000
    max_depth: int = 5
    allow_domains: list[str] = dataclasses.field(default_factory=list)
    rate: float = 1.0
    concurrency: int = 8
    per_host_concurrency: int = 2
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 10.0
    max_seconds: float = 30.0
    max_bytes: int = 5_000_000
    max_retries: int = 2
    retry_backoff: float = 1.0
    max_redirects: int = 5
    content_types: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_CONTENT_TYPES))
    sitemaps: bool = True
    allow_private: bool = False
    allow_networks: list[str] = dataclasses.field(default_factory=list)
    warc_max_bytes: int = 100_000_000
    warc_max_seconds: float = 300.0
    warc_prefix: str = "hanforge-crawl"
    progress: bool = True

    def validate(self) -> None:
        require(bool(self.seeds), "seeds", "at least one seed URL is needed")
        for i, seed in enumerate(self.seeds):
            require(seed.lower().startswith(("http://", "https://")), f"seeds[{i}]", f"{seed!r} is not an http(s) URL")
        require(bool(self.output), "output", "an output folder is needed")
        require(self.max_pages >= 0, "max_pages", f"must be >= 0 (0 = no limit), got {self.max_pages}")
        require(self.max_depth >= 0, "max_depth", f"must be >= 0, got {self.max_depth}")
        require(self.rate > 0, "rate", f"must be > 0 requests per second, got {self.rate}")
        require(self.concurrency >= 1, "concurrency", f"must be >= 1, got {self.concurrency}")
        require(
            self.per_host_concurrency >= 1, "per_host_concurrency", f"must be >= 1, got {self.per_host_concurrency}"
        )
        require(self.timeout > 0, "timeout", f"must be > 0 seconds, got {self.timeout}")
        require(self.max_seconds > 0, "max_seconds", f"must be > 0 seconds, got {self.max_seconds}")
        require(self.max_bytes > 0, "max_bytes", f"must be > 0, got {self.max_bytes}")
        require(self.max_retries >= 0, "max_retries", f"must be >= 0, got {self.max_retries}")
        require(self.retry_backoff >= 0, "retry_backoff", f"must be >= 0, got {self.retry_backoff}")
        require(self.max_redirects >= 0, "max_redirects", f"must be >= 0, got {self.max_redirects}")
        require(bool(self.content_types), "content_types", "at least one media type is needed")
        require(self.warc_max_bytes >= 1024, "warc_max_bytes", f"must be >= 1024, got {self.warc_max_bytes}")
        require(self.warc_max_seconds > 0, "warc_max_seconds", f"must be > 0, got {self.warc_max_seconds}")
        require(bool(self.user_agent.strip()), "user_agent", "must not be empty")
        require(
            self.warc_prefix.replace("-", "").replace("_", "").isalnum(),
            "warc_prefix",
            f"{self.warc_prefix!r}: use letters, digits, '-' and '_' only",
        )
        for i, net in enumerate(self.allow_networks):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"allow_networks[{i}]: {net!r} is not a CIDR range like 10.0.0.0/8") from None

    @property
    def output_path(self) -> Path:
        return Path(self.output)

    @property
    def warc_dir(self) -> Path:
        return self.output_path / "warc"

    @property
    def state_dir(self) -> Path:
        return self.output_path / "state"
