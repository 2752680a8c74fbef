"""The crawl loop: frontier -> robots -> polite fetch -> WARC -> links -> frontier.

:func:`run_crawl` is ``hanforge crawl``. ``concurrency`` worker coroutines take URLs from the
SQLite frontier (skipping hosts that are at their limit right now), check robots.txt, fetch
under the per-host limits, archive 2xx and 3xx exchanges in the WARC segment, queue in-scope
links (up to ``max_depth``) and redirect targets (up to ``max_redirects`` hops), and record
every other outcome as ``failed`` or ``disallowed`` with a reason. Rerunning the same command
resumes from the frontier (see :mod:`hanforge.corpus.crawl.frontier` for what survives a kill).
"""

from __future__ import annotations

import asyncio
import fcntl
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hanforge.atomic import atomic_write_json, remove_stale_temporaries
from hanforge.corpus.crawl.config import CrawlConfig
from hanforge.corpus.crawl.fetcher import Fetcher, FetchResult
from hanforge.corpus.crawl.frontier import Frontier, FrontierEntry
from hanforge.corpus.crawl.links import (
    default_allow_domains,
    extract_links,
    host_key,
    in_scope,
    normalize_url,
)
from hanforge.corpus.crawl.robots import RobotsCache
from hanforge.corpus.crawl.sitemaps import MAX_SITEMAPS_PER_HOST, parse_sitemap
from hanforge.corpus.crawl.warc_output import WarcSegmentWriter
from hanforge.corpus.decode import DecodeError, decode_html_bytes
from hanforge.errors import ConfigError, HanforgeError, InputError

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PROGRESS_EVERY_SECONDS = 0.2
IDLE_POLL_SECONDS = 0.01
MAX_IDLE_POLL_SECONDS = 0.25
SUMMARY_FILE = "crawl.json"


@dataclass
class CrawlSummary:
    """What a crawl run did, and where the whole crawl stands (all runs together)."""

    output: Path
    status_counts: dict[str, int]
    reason_counts: dict[str, int]
    warc_files: list[str]
    num_fetched_this_run: int = 0
    interrupted: bool = False
    recovered: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status_counts": self.status_counts,
            "reason_counts": self.reason_counts,
            "warc_files": self.warc_files,
            "events": self.events,
        }


def run_crawl(config: CrawlConfig) -> CrawlSummary:
    """Crawl ``config.seeds`` into gzipped WARC files under ``<output>/warc/``; resume if begun.

    Obeys robots.txt (and its Crawl-delay), limits requests per host (``rate``,
    ``per_host_concurrency``) and overall (``concurrency``), retries 5xx/timeouts with backoff,
    caps redirects, response size and time, keeps only ``content_types``, finds sitemaps,
    normalizes and deduplicates URLs, follows links within ``allow_domains`` up to
    ``max_depth``, and refuses non-public addresses unless allowed. Writes
    ``<output>/crawl.json`` (counts by status and reason, WARC file names) at the end.
    """
    config.validate()
    return asyncio.run(Crawler(config).run())


class _CrawlLock:
    """An exclusive lock on the crawl folder, so two processes never share a frontier."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _CrawlLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise InputError(f"{self.path.parent.parent}: another crawl is running in this folder") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


class Crawler:
    """One crawl run over a crawl folder; see the module docstring."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        seeds = [normalize_url(s) for s in config.seeds]
        bad = [s for s, n in zip(config.seeds, seeds, strict=True) if n is None]
        if bad:
            raise ConfigError(f"seeds: {bad[0]!r} is not a crawlable http(s) URL")
        self.seeds = list(dict.fromkeys(s for s in seeds if s))
        self.allow_domains = [d.lower().strip(".") for d in config.allow_domains] or default_allow_domains(self.seeds)
        self.events: Counter = Counter()
        self._in_flight = 0
        self._num_fetched = 0
        self._num_fetched_this_run = 0
        self._stopping = False
        self._progress_at = 0.0

    def stop(self) -> None:
        """Finish the pages in flight, close the WARC segment, and end (SIGINT/SIGTERM)."""
        self._stopping = True

    # -- setup -----------------------------------------------------------------------------
    def _check_scope(self, frontier: Frontier) -> None:
        scope = {"seeds": sorted(self.seeds), "allow_domains": sorted(self.allow_domains)}
        previous = frontier.get_meta("scope")
        if previous is None:
            frontier.set_meta("scope", scope)
        elif previous != scope:
            raise ConfigError(
                f"{self.config.output}: this crawl folder belongs to a crawl with other seeds or "
                f"allowed domains ({previous}); use another --output to start a new crawl"
            )

    async def run(self) -> CrawlSummary:
        cfg = self.config
        with _CrawlLock(cfg.state_dir / "lock"):
            self.frontier = Frontier(cfg.state_dir / "frontier.sqlite")
            try:
                return await self._run_locked()
            finally:
                self.frontier.close()

    async def _run_locked(self) -> CrawlSummary:
        cfg = self.config
        frontier = self.frontier
        self._check_scope(frontier)
        remove_stale_temporaries(cfg.warc_dir)
        self.writer = WarcSegmentWriter(
            cfg.warc_dir,
            frontier=frontier,
            prefix=cfg.warc_prefix,
            max_bytes=cfg.warc_max_bytes,
            max_seconds=cfg.warc_max_seconds,
            user_agent=cfg.user_agent,
        )
        recovered = frontier.recover(segment_exists=self.writer.segment_exists)
        frontier.add(self.seeds, depth=0)
        self._num_fetched = frontier.num_fetched()
        console = Console(file=sys.stderr)
        self.progress = Progress(
            TextColumn("[bold]crawl"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not cfg.progress,
            transient=False,
        )
        self._task = self.progress.add_task("crawl", total=cfg.max_pages or None, completed=self._num_fetched, info="")
        installed: list[int] = []
        try:
            async with Fetcher(cfg) as fetcher:
                self.fetcher = fetcher
                self.robots = RobotsCache(fetcher, user_agent=cfg.user_agent)
                installed = self._install_signal_handlers()
                with self.progress:
                    if cfg.sitemaps:
                        await self._discover_sitemaps()
                    workers = [asyncio.create_task(self._worker()) for _ in range(cfg.concurrency)]
                    try:
                        await asyncio.gather(*workers)
                    finally:
                        for w in workers:
                            w.cancel()
                    self._show_progress(force=True)
        finally:
            for sig in installed:
                asyncio.get_running_loop().remove_signal_handler(sig)
            # records are written synchronously, so the open segment is whole at any await point
            self.writer.complete()
        summary = CrawlSummary(
            output=cfg.output_path,
            status_counts=frontier.status_counts(),
            reason_counts=frontier.reason_counts(),
            warc_files=frontier.completed_segments(),
            num_fetched_this_run=self._num_fetched_this_run,
            recovered=recovered,
            interrupted=self._stopping,
            events=dict(sorted(self.events.items())),
        )
        atomic_write_json(cfg.output_path / SUMMARY_FILE, summary.to_dict())
        return summary

    def _install_signal_handlers(self) -> list[int]:
        """SIGINT/SIGTERM stop the crawl gracefully (only possible in the main thread)."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (ValueError, RuntimeError, NotImplementedError):
                continue
            installed.append(sig)
        return installed

    # -- discovery -------------------------------------------------------------------------
    async def _discover_sitemaps(self) -> None:
        """Queue the page URLs of each seed host's sitemaps (depth 1), once per crawl folder."""
        for host in dict.fromkeys(host_key(s) for s in self.seeds):
            if self.frontier.sitemaps_done(host):
                continue
            rules = await self.robots.rules(host + "/")
            todo = [u for u in (normalize_url(s) for s in rules.sitemaps) if u]
            if not todo:
                default = host + "/sitemap.xml"
                todo = [default] if rules.allowed(default, self.config.user_agent) else []
            seen: set[str] = set()
            while todo and len(seen) < MAX_SITEMAPS_PER_HOST:
                url = todo.pop(0)
                if url in seen or not in_scope(url, self.allow_domains):
                    continue
                seen.add(url)
                result = await self.fetcher.fetch(url, content_types=None)
                self.events["sitemap_requests"] += 1
                if result.error or result.status != 200:
                    self.events["sitemaps_unavailable"] += 1
                    continue
                pages, children = parse_sitemap(result.body, max_bytes=self.config.max_bytes)
                todo.extend(u for u in (normalize_url(c, base=url) for c in children) if u)
                urls = [u for u in (normalize_url(p, base=url) for p in pages) if u]
                in_scope_urls = [u for u in urls if in_scope(u, self.allow_domains)]
                self.events["sitemap_urls_offsite"] += len(urls) - len(in_scope_urls)
                self.events["sitemap_urls_new"] += self.frontier.add(in_scope_urls, depth=1)
            self.frontier.mark_sitemaps_done(host)

    # -- the loop --------------------------------------------------------------------------
    def _budget_left(self) -> bool:
        return not self.config.max_pages or self._num_fetched < self.config.max_pages

    async def _worker(self) -> None:
        limiter = self.fetcher.limiter
        while self._budget_left() and not self._stopping:
            entry = self.frontier.claim(exclude_hosts=limiter.busy_hosts())
            if entry is None:
                if self._in_flight == 0 and self.frontier.num_queued() == 0:
                    return
                self.writer.rotate_if_full()  # an idle crawl still closes segments on time
                wait = limiter.seconds_until_ready(default=IDLE_POLL_SECONDS)
                await asyncio.sleep(min(max(wait, IDLE_POLL_SECONDS), MAX_IDLE_POLL_SECONDS))
                continue
            self._in_flight += 1
            try:
                await self._process(entry)
            except HanforgeError:  # e.g. the WARC cannot be written: stop, never write after a partial record
                raise
            except Exception as exc:  # one bad page never ends the crawl  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
                logger.exception(f"crawl: unexpected error on {entry.url}")
                self.frontier.mark_failed(entry.url, reason=f"error:{type(exc).__name__}")
            finally:
                self._in_flight -= 1
                self._show_progress()

    async def _process(self, entry: FrontierEntry) -> None:
        url = entry.url
        rules = await self.robots.rules(url)
        if not rules.allowed(url, self.config.user_agent):
            self.frontier.mark_disallowed(url, reason=rules.disallow_all_reason or "robots")
            return
        if not self._budget_left():
            self.frontier.release(url)
            return
        self._num_fetched += 1
        self._num_fetched_this_run += 1
        result = await self.fetcher.fetch(url, content_types=self.config.content_types)
        if result.num_attempts > 1:
            self.events["retries"] += result.num_attempts - 1
        if result.error is not None:
            self.frontier.mark_failed(url, reason=result.error, http_status=result.status)
            return
        status = result.status or 0
        if not 200 <= status < 400:
            self.frontier.mark_failed(url, reason=f"http_{status}", http_status=status)
            return
        try:
            segment = self.writer.write(result)
        except OSError as exc:
            raise InputError(f"{self.config.warc_dir}: cannot write the WARC file ({exc})") from exc
        self.frontier.mark_written(url, segment=segment, http_status=status)
        if status >= 300:
            self._follow_redirect(entry, result)
        elif entry.depth < self.config.max_depth and result.media_type in HTML_TYPES:
            self._queue_links(entry, result)
        self.writer.rotate_if_full()

    def _follow_redirect(self, entry: FrontierEntry, result: FetchResult) -> None:
        target = normalize_url(result.location, base=entry.url) if result.location else None
        if target is None:
            self.events["redirects_without_target"] += 1
        elif entry.hops + 1 > self.config.max_redirects:
            self.events["redirects_over_cap"] += 1
        elif not in_scope(target, self.allow_domains):
            self.events["redirects_offsite"] += 1
        elif not self.frontier.add([target], depth=entry.depth, hops=entry.hops + 1, priority=0):
            self.events["redirects_to_known_url"] += 1

    def _queue_links(self, entry: FrontierEntry, result: FetchResult) -> None:
        try:
            html, _charset = decode_html_bytes(result.body, http_charset=result.charset)
        except DecodeError:
            self.events["pages_undecodable_for_links"] += 1
            return
        links = extract_links(html, page_url=entry.url)
        kept = [u for u in links if in_scope(u, self.allow_domains)]
        self.events["links_offsite"] += len(links) - len(kept)
        self.events["links_new"] += self.frontier.add(kept, depth=entry.depth + 1)

    def _show_progress(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._progress_at < PROGRESS_EVERY_SECONDS:
            return
        self._progress_at = now
        self.progress.update(
            self._task,
            completed=self._num_fetched,
            info=f"queued {self.frontier.num_queued()} · in flight {self._in_flight}",
        )
