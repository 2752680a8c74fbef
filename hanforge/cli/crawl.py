"""``hanforge crawl``: polite, resumable crawl into gzipped WARC files (thin over ``run_crawl``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hanforge.cli._options import add_inputs, add_output, add_progress, add_verb
from hanforge.console import print_crawl_summary
from hanforge.corpus.crawl import CrawlConfig, run_crawl
from hanforge.errors import InputError

#: Options setting the CrawlConfig field of the same name, whose default they show: name, type, help.
VALUE_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("max_pages", int, "most URLs fetched, 0 = no limit"),
    ("max_depth", int, "most link hops from a seed"),
    ("rate", float, "requests per second per host"),
    ("concurrency", int, "requests in flight overall"),
    ("per_host_concurrency", int, "requests in flight per host"),
    ("user_agent", str, "User-Agent header and robots.txt agent"),
    ("timeout", float, "connect/read timeout, seconds"),
    ("max_seconds", float, "cap on one response's total time, seconds"),
    ("max_bytes", int, "cap on one response body"),
    ("max_retries", int, "retries on 5xx/timeouts"),
    ("retry_backoff", float, "first retry delay in seconds, doubling"),
    ("max_redirects", int, "redirect hops followed"),
    ("warc_max_bytes", int, "start a new WARC file after this many bytes"),
    ("warc_max_seconds", float, "also start a new WARC file after this many seconds; bounds what a kill loses"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "crawl", crawl_command, help="crawl sites politely into gzipped WARC files (resumable)")
    add_inputs(p, "seed URLs, or files with one URL per line (# comments allowed)")
    add_output(p, "crawl folder (WARCs in <output>/warc/); rerun to resume")
    for name, type_, text in VALUE_OPTIONS:
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=type_, default=getattr(CrawlConfig, name), help=f"{text} (%(default)s)")
    repeatable = (
        ("--allow-domain", "allow_domains", "D", "host in scope, with its subdomains (default: the seeds' hosts)"),
        ("--content-type", "content_types", "TYPE", "media type kept (default text/html and application/xhtml+xml)"),
        ("--allow-network", "allow_networks", "CIDR", "allow one non-public range, e.g. 10.1.0.0/16"),
    )
    for flag, dest, metavar, text in repeatable:
        p.add_argument(flag, action="append", dest=dest, default=None, metavar=metavar, help=f"{text} (repeatable)")
    p.add_argument("--no-sitemaps", action="store_true", help="do not read sitemaps")
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private, loopback and link-local addresses (refused by default)",
    )
    add_progress(p)


def read_seeds(items: list[str]) -> list[str]:
    """Seed URLs from command-line items: each is a URL or a file of URLs (one a line)."""
    seeds: list[str] = []
    for item in items:
        if "://" in item:
            seeds.append(item)
            continue
        path = Path(item)
        if not path.is_file():
            raise InputError(f"seed {item!r} is neither an http(s) URL nor a seed file")
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                seeds.append(line)
    if not seeds:
        raise InputError(f"no seed URLs in {' '.join(items)}")
    return seeds


def crawl_command(args: argparse.Namespace) -> int:
    """Crawl from seed URLs into gzipped, size-rotated WARC files; rerun the same command to resume.

    Obeys robots.txt (with Crawl-delay), limits rate and concurrency per host, retries 5xx and
    timeouts with backoff, caps redirects, response size and time, finds sitemaps, follows
    links within the allowed domains, and refuses private/loopback/link-local addresses unless
    --allow-private. A killed crawl resumes without refetching what is in completed WARCs.

    Example:  hanforge crawl seeds.txt --output crawl/ --max-pages 5000 --rate 0.5
              hanforge run crawl/warc --output corpus/
    """
    table = {name: getattr(args, name) for name, _, _ in VALUE_OPTIONS}
    table.update(
        seeds=read_seeds(args.inputs),
        output=args.output,
        allow_domains=args.allow_domains or [],
        allow_networks=args.allow_networks or [],
        sitemaps=not args.no_sitemaps,
        allow_private=args.allow_private,
        progress=not args.no_progress,
    )
    if args.content_types:
        table["content_types"] = args.content_types
    summary = run_crawl(CrawlConfig.from_table(table, where="crawl"))
    print_crawl_summary(summary)
    return 1 if summary.interrupted else 0
