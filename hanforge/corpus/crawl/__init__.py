"""A polite, resumable crawler that writes gzipped WARC files ``hanforge run`` ingests.

Modules: :mod:`.config` (``CrawlConfig``), :mod:`.links` (URL normalization, scope, links),
:mod:`.frontier` (SQLite queue and ledger), :mod:`.robots`, :mod:`.sitemaps`, :mod:`.fetcher`
(httpx, address guard, per-host limits, retries), :mod:`.warc_output` (rotating WARC segments)
and :mod:`.crawler` (the loop; :func:`run_crawl`).
"""

from hanforge.corpus.crawl.config import CrawlConfig
from hanforge.corpus.crawl.crawler import CrawlSummary, run_crawl

__all__ = ["CrawlConfig", "CrawlSummary", "run_crawl"]
