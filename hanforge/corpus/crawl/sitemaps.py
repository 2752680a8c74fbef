"""sitemap.xml discovery: robots.txt ``Sitemap:`` lines, else ``/sitemap.xml``; indexes followed.

Parsed with lxml with entity resolution and network access off (no XXE, no billion laughs);
gzipped sitemaps (``.xml.gz``) are inflated up to the response size cap.
"""

from __future__ import annotations

import gzip
import zlib

from lxml import etree

MAX_SITEMAPS_PER_HOST = 50


def parse_sitemap(raw: bytes, *, max_bytes: int) -> tuple[list[str], list[str]]:
    """``(page URLs, child sitemap URLs)`` of a sitemap or sitemap index; ([], []) if unparsable."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, max_bytes)
        except (zlib.error, gzip.BadGzipFile):
            return [], []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError:
        return [], []
    if root is None:
        return [], []
    pages: list[str] = []
    children: list[str] = []
    for el in root.iter("{*}loc"):
        parent = el.getparent()
        if el.text is None or parent is None:
            continue
        tag = etree.QName(parent).localname
        (children if tag == "sitemap" else pages).append(el.text.strip())
    return pages, children
