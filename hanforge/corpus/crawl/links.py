"""URL normalization, crawl scope, and link extraction from fetched HTML.

Normalization is hand-written on :mod:`urllib.parse` because the installed candidates do not
do what a frontier key needs: courlan keeps fragments and dot segments, and w3lib is not a
dependency. The rules (RFC 3986 section 6 plus the usual crawler ones): lower-case scheme and
host, IDNA host, default port dropped, dot segments removed, empty path -> ``/``, percent
escapes upper-cased and unreserved ones decoded, unsafe characters percent-encoded as UTF-8,
fragment and user info dropped. The query keeps its order (reordering can change meaning).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html

DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in path and query; everything else is percent-encoded.
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalize_escapes(part: str) -> str:
    """Upper-case %xx escapes, decode escaped unreserved characters, encode unsafe characters."""
    out = []
    i = 0
    while i < len(part):
        char = part[i]
        if char == "%" and _ESCAPE.match(part, i):
            decoded = chr(int(part[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else part[i : i + 3].upper())
            i += 3
            continue
        if char == "%":
            out.append("%25")
        elif char in _SAFE:
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    segments: list[str] = []
    parts = path.split("/")
    for i, seg in enumerate(parts):
        if seg == ".":
            if i == len(parts) - 1:
                segments.append("")
            continue
        if seg == "..":
            if len(segments) > 1:
                segments.pop()
            if i == len(parts) - 1:
                segments.append("")
            continue
        segments.append(seg)
    result = "/".join(segments)
    return result if result.startswith("/") else "/" + result


def normalize_url(url: str, *, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None if not crawlable http(s)."""
    url = url.strip()
    if base is not None:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalize_escapes(_remove_dot_segments(parts.path or "/"))
    query = _normalize_escapes(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def url_host(url: str) -> str:
    """Host of a normalized URL (without port)."""
    return (urlsplit(url).hostname or "").lower()


def host_key(url: str) -> str:
    """``scheme://host[:port]``: the unit robots.txt, rate and concurrency limits apply to."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def in_scope(url: str, allow_domains: list[str]) -> bool:
    """Whether ``url``'s host is one of ``allow_domains`` or a subdomain of one."""
    host = url_host(url)
    return any(host == d or host.endswith("." + d) for d in allow_domains)


def default_allow_domains(seeds: list[str]) -> list[str]:
    """The scope used when none is given: the seeds' hosts."""
    return sorted({url_host(s) for s in seeds if url_host(s)})


def extract_links(html: str, *, page_url: str) -> list[str]:
    """Normalized http(s) links of a page, in document order, without duplicates.

    Honours ``<base href>``, skips ``rel="nofollow"`` links, and returns nothing when a
    ``<meta name="robots">`` says ``nofollow``.
    """
    if not html.strip():
        return []
    try:
        doc = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    for meta in doc.iter("meta"):
        if (meta.get("name") or "").lower() == "robots" and "nofollow" in (meta.get("content") or "").lower():
            return []
    base = page_url
    for el in doc.iter("base"):
        if el.get("href"):
            base = urljoin(page_url, el.get("href").strip())
            break
    seen: dict[str, None] = {}
    for el in doc.iter("a", "area", "frame", "iframe"):
        ref = el.get("href") if el.tag in ("a", "area") else el.get("src")
        if not ref or "nofollow" in (el.get("rel") or "").lower():
            continue
        url = normalize_url(ref, base=base)
        if url is not None:
            seen.setdefault(url, None)
    return list(seen)
