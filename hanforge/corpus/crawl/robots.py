"""robots.txt per host (RFC 9309 via protego): fetched once, shared by all workers.

Outcomes follow RFC 9309 section 2.3.1: a 2xx file is parsed; 4xx means no restrictions;
5xx, timeouts, connection errors and refused addresses mean *everything* is disallowed for
that host (the crawler cannot know the rules, so it does not crawl). Redirects are followed
up to five hops. Crawl-delay of the matching group slows the host down (never speeds it up).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from protego import Protego

from hanforge.corpus.crawl.fetcher import Fetcher
from hanforge.corpus.crawl.links import host_key, normalize_url

MAX_ROBOTS_BYTES = 500_000
MAX_ROBOTS_REDIRECTS = 5


@dataclass
class RobotsRules:
    """The rules of one host: parsed file, allow-all, or disallow-all (with why)."""

    parser: Protego | None = None
    disallow_all_reason: str | None = None
    sitemaps: list[str] = field(default_factory=list)

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.disallow_all_reason:
            return False
        return self.parser is None or self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


class RobotsCache:
    """Fetches and caches robots.txt per ``scheme://host:port``."""

    def __init__(self, fetcher: Fetcher, *, user_agent: str) -> None:
        self.fetcher = fetcher
        self.user_agent = user_agent
        self._rules: dict[str, asyncio.Task] = {}

    async def rules(self, url: str) -> RobotsRules:
        host = host_key(url)
        if host not in self._rules:
            self._rules[host] = asyncio.ensure_future(self._load(host))
        return await self._rules[host]

    async def allowed(self, url: str) -> bool:
        return (await self.rules(url)).allowed(url, self.user_agent)

    async def _load(self, host: str) -> RobotsRules:
        url = f"{host}/robots.txt"
        for _ in range(MAX_ROBOTS_REDIRECTS + 1):
            result = await self.fetcher.fetch(url, content_types=None, max_bytes=MAX_ROBOTS_BYTES)
            if result.error is None and 300 <= (result.status or 0) < 400 and result.location:
                url = normalize_url(result.location, base=url) or ""
                if not url:
                    break
                continue
            break
        if result.error == "blocked_address":
            return RobotsRules(disallow_all_reason="blocked_address")
        if result.error is not None or result.status is None:
            return RobotsRules(disallow_all_reason="robots_unreachable")
        if result.status >= 500 or 300 <= result.status < 400:
            return RobotsRules(disallow_all_reason="robots_unreachable")
        if result.status >= 400:
            return RobotsRules()
        parser = Protego.parse(result.body.decode("utf-8", errors="replace"))
        rules = RobotsRules(parser=parser, sitemaps=list(parser.sitemaps))
        self.fetcher.limiter.set_crawl_delay(host, rules.crawl_delay(self.user_agent))
        return rules
