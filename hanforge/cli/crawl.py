"""``hanforge crawl``: polite, resumable crawl into gzipped WARC files (thin over ``run_crawl``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hanforge.cli._options import add_inputs, add_output, add_progress, add_verb
from hanforge.corpus.crawl import CrawlConfig, run_crawl
from hanforge.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "crawl", crawl_command, help="crawl sites politely into gzipped WARC files (resumable)")
    d = CrawlConfig
    add_inputs(p, "seed URLs, or files with one URL per line (# comments allowed)")
    add_output(p, "crawl folder (WARCs in <output>/warc/); rerun to resume")
    p.add_argument("--max-pages", type=int, default=d.max_pages, help="most URLs fetched, 0 = no limit (%(default)s)")
    p.add_argument("--max-depth", type=int, default=d.max_depth, help="most link hops from a seed (%(default)s)")
    p.add_argument(
        "--allow-domain",
        action="append",
        dest="allow_domains",
        default=[],
        metavar="D",
        help="host in scope, with its subdomains (repeatable; default: the seeds' hosts)",
    )
    p.add_argument("--rate", type=float, default=d.rate, help="requests per second per host (%(default)s)")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="requests in flight overall (%(default)s)")
    p.add_argument(
        "--per-host-concurrency",
        type=int,
        default=d.per_host_concurrency,
        help="requests in flight per host (%(default)s)",
    )
    p.add_argument("--user-agent", default=d.user_agent, help="User-Agent header and robots.txt agent")
    p.add_argument("--timeout", type=float, default=d.timeout, help="connect/read timeout, seconds (%(default)s)")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=d.max_seconds,
        help="cap on one response's total time, seconds (%(default)s)",
    )
    p.add_argument("--max-bytes", type=int, default=d.max_bytes, help="cap on one response body (%(default)s)")
    p.add_argument("--max-retries", type=int, default=d.max_retries, help="retries on 5xx/timeouts (%(default)s)")
    p.add_argument(
        "--retry-backoff", type=float, default=d.retry_backoff, help="first retry delay, doubling (%(default)s s)"
    )
    p.add_argument("--max-redirects", type=int, default=d.max_redirects, help="redirect hops followed (%(default)s)")
    p.add_argument(
        "--content-type",
        action="append",
        dest="content_types",
        default=None,
        metavar="TYPE",
        help="media type kept (repeatable; default text/html and application/xhtml+xml)",
    )
    p.add_argument("--no-sitemaps", action="store_true", help="do not read sitemaps")
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="allow private, loopback and link-local addresses (refused by default)",
    )
    p.add_argument(
        "--allow-network",
        action="append",
        dest="allow_networks",
        default=[],
        metavar="CIDR",
        help="allow one non-public range, e.g. 10.1.0.0/16 (repeatable)",
    )
    p.add_argument(
        "--warc-max-bytes",
        type=int,
        default=d.warc_max_bytes,
        help="start a new WARC file after this many bytes (%(default)s)",
    )
    p.add_argument(
        "--warc-max-seconds",
        type=float,
        default=d.warc_max_seconds,
        help="also start a new WARC file after this many seconds; bounds what a kill loses (%(default)s)",
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
    table = {
        "seeds": read_seeds(args.inputs),
        "output": args.output,
        "max_pages": args.max_pages,
        "max_depth": args.max_depth,
        "allow_domains": args.allow_domains,
        "rate": args.rate,
        "concurrency": args.concurrency,
        "per_host_concurrency": args.per_host_concurrency,
        "user_agent": args.user_agent,
        "timeout": args.timeout,
        "max_seconds": args.max_seconds,
        "max_bytes": args.max_bytes,
        "max_retries": args.max_retries,
        "retry_backoff": args.retry_backoff,
        "max_redirects": args.max_redirects,
        "sitemaps": not args.no_sitemaps,
        "allow_private": args.allow_private,
        "allow_networks": args.allow_networks,
        "warc_max_bytes": args.warc_max_bytes,
        "warc_max_seconds": args.warc_max_seconds,
        "progress": not args.no_progress,
    }
    if args.content_types:
        table["content_types"] = args.content_types
    summary = run_crawl(CrawlConfig.from_table(table, where="crawl"))
    console = Console()
    out = Table(title=f"hanforge crawl · {summary.output}")
    out.add_column("outcome")
    out.add_column("URLs", justify="right")
    for key, n in summary.status_counts.items():
        out.add_row(key, str(n))
    for key, n in summary.reason_counts.items():
        out.add_row(f"  {key}", str(n))
    for key, n in summary.events.items():
        out.add_row(f"[dim]{key}[/dim]", str(n))
    console.print(out)
    console.print(
        f"fetched this run: {summary.num_fetched_this_run}; WARC files: {len(summary.warc_files)} "
        f"in {summary.output / 'warc'}; recovered: {summary.recovered}"
    )
    if summary.status_counts.get("queued") and not summary.interrupted:
        console.print(
            f"{summary.status_counts['queued']} URLs still queued: the --max-pages budget is spent; "
            "rerun with a higher --max-pages to continue"
        )
    if summary.interrupted:
        console.print("interrupted: the pages in flight were finished and the WARC closed; rerun to resume")
        return 1
    return 0
