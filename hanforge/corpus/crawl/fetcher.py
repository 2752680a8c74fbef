"""Fetching one URL politely and safely: httpx, address guard, per-host limits, retries, caps.

Safety is enforced where the socket is opened: :class:`GuardedNetworkBackend` wraps httpcore's
network backend, resolves the host itself, refuses the connection if *any* resolved address is
private, loopback, link-local, multicast or otherwise not global (unless allowed), and connects
to the address it checked (so DNS cannot change between check and connect). Redirects are not
followed by httpx; each hop is a new frontier URL, so every hop is checked again.

:class:`HostLimiter` holds per-host concurrency (a semaphore) and spacing between request
starts (``1 / rate``, or robots.txt Crawl-delay when longer). :meth:`Fetcher.fetch` retries
5xx/429 answers, timeouts and connection errors with exponential backoff, outside the host slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpcore
import httpx

from hanforge.corpus.crawl.config import CrawlConfig
from hanforge.corpus.crawl.links import host_key

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


class BlockedAddressError(Exception):
    """A host resolved to an address the crawl may not contact."""


class AddressPolicy:
    """Which IP addresses may be contacted: global ones, plus private ones when allowed."""

    def __init__(self, *, allow_private: bool = False, allow_networks: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.allow_networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]

    def allows(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_global and not ip.is_multicast:
            return True
        if any(ip in net for net in self.allow_networks):
            return True
        return self.allow_private and not ip.is_multicast and not ip.is_unspecified


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that vets every resolved address before connecting; see module doc."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None, socket_options=None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except (socket.gaierror, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        blocked = [a for a in addresses if not self.policy.allows(a)]
        if blocked:
            raise BlockedAddressError(f"{host} resolves to non-public address {blocked[0]}")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedAddressError("unix sockets are never used by the crawler")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connection pool uses :class:`GuardedNetworkBackend` (no proxies)."""

    def __init__(self, policy: AddressPolicy, *, max_connections: int) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(policy),
        )


class HostLimiter:
    """Per-host concurrency and spacing between request starts; see the module docstring."""

    def __init__(self, *, per_host: int, interval: float) -> None:
        self.per_host = per_host
        self.interval = interval
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    def set_crawl_delay(self, host: str, seconds: float | None) -> None:
        if seconds:
            self._delay[host] = float(seconds)

    def spacing(self, host: str) -> float:
        return max(self.interval, self._delay.get(host, 0.0))

    def busy_hosts(self) -> set[str]:
        """Hosts that cannot start a request right now (all slots taken, or spacing not over)."""
        now = time.monotonic()
        busy = {h for h, s in self._sems.items() if s.locked()}
        busy.update(h for h, t in self._next_start.items() if t > now + 0.001)
        return busy

    def seconds_until_ready(self, *, default: float) -> float:
        """Time until the next host's spacing is over (``default`` when none is waiting)."""
        now = time.monotonic()
        waits = [t - now for t in self._next_start.values() if t > now]
        return min(waits) if waits else default

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        sem = self._sems.setdefault(host, asyncio.Semaphore(self.per_host))
        async with sem:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            self._next_start[host] = start + self.spacing(host)
            if start > now:
                await asyncio.sleep(start - now)
            yield


@dataclass
class FetchResult:
    """What one fetch produced: the exchange to archive, or an error reason."""

    url: str
    status: int | None = None
    reason_phrase: str = ""
    http_version: str = "HTTP/1.1"
    request_line: str = ""
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    content_encoding: str | None = None
    peer_address: str | None = None
    error: str | None = None
    num_attempts: int = 1

    @property
    def location(self) -> str | None:
        for name, value in self.response_headers:
            if name.lower() == "location":
                return value
        return None

    @property
    def media_type(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.header("content-type").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None

    def header(self, name: str) -> str:
        for key, value in self.response_headers:
            if key.lower() == name:
                return value
        return ""

    @property
    def retryable(self) -> bool:
        return self.error in ("timeout", "connect_error", "network_error") or (
            self.error is None and self.status in RETRY_STATUSES
        )


def _decode_header_list(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


class Fetcher:
    """Fetches URLs under a :class:`CrawlConfig`'s limits; use as an async context manager."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self.limiter = HostLimiter(per_host=config.per_host_concurrency, interval=1.0 / config.rate)
        self.policy = AddressPolicy(allow_private=config.allow_private, allow_networks=config.allow_networks)
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(self.policy, max_connections=max(config.concurrency, 1) * 2),
            timeout=httpx.Timeout(config.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={
                "User-Agent": config.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            },
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()

    async def fetch(
        self, url: str, *, content_types: list[str] | None = None, max_bytes: int | None = None
    ) -> FetchResult:
        """GET ``url`` with retries and backoff; never raises for network or HTTP trouble."""
        host = host_key(url)
        attempts = 1 + self.config.max_retries
        result = FetchResult(url=url, error="not_attempted")
        for attempt in range(attempts):
            async with self.limiter.slot(host):
                result = await self.fetch_once(
                    url, content_types=content_types, max_bytes=max_bytes or self.config.max_bytes
                )
            result.num_attempts = attempt + 1
            if not result.retryable or attempt == attempts - 1:
                break
            await asyncio.sleep(self._backoff(attempt, result))
        if result.error is None and result.status in RETRY_STATUSES:
            result.error = f"http_{result.status}"
        return result

    def _backoff(self, attempt: int, result: FetchResult) -> float:
        delay = self.config.retry_backoff * (2**attempt)
        retry_after = result.header("retry-after")
        if retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        return delay

    async def fetch_once(self, url: str, *, content_types: list[str] | None, max_bytes: int) -> FetchResult:
        """One GET without retries, under the response time and size caps."""
        result = FetchResult(url=url)
        try:
            async with asyncio.timeout(self.config.max_seconds):
                request = self.client.build_request("GET", url)
                target = request.url.raw_path.decode("ascii")
                result.request_line = f"GET {target} HTTP/1.1"
                result.request_headers = _decode_header_list(request.headers.raw)
                response = await self.client.send(request, stream=True)
                try:
                    await self._read(response, result, content_types=content_types, max_bytes=max_bytes)
                finally:
                    await response.aclose()
        except BlockedAddressError:
            result.error = "blocked_address"
        except (TimeoutError, httpx.TimeoutException):
            result.error = "timeout"
        except httpx.ConnectError:
            result.error = "connect_error"
        except httpx.DecodingError:
            result.error = "decoding_error"
        except (httpx.TransportError, httpx.StreamError):
            result.error = "network_error"
        except httpx.InvalidURL:
            result.error = "invalid_url"
        return result

    async def _read(
        self, response: httpx.Response, result: FetchResult, *, content_types: list[str] | None, max_bytes: int
    ) -> None:
        result.status = response.status_code
        result.reason_phrase = response.reason_phrase
        result.http_version = response.http_version
        result.response_headers = _decode_header_list(response.headers.raw)
        result.content_encoding = response.headers.get("content-encoding")
        stream = response.extensions.get("network_stream")
        if stream is not None:
            peer = stream.get_extra_info("server_addr")
            result.peer_address = peer[0] if peer else None
        if 200 <= response.status_code < 300 and content_types is not None:
            media = result.media_type
            if media not in content_types:
                result.error = f"content_type:{media or 'missing'}"
                return
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes and not result.content_encoding:
            result.error = "too_large"
            return
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # decoded: the cap also stops gzip bombs
            size += len(chunk)
            if size > max_bytes:
                result.error = "too_large"
                return
            chunks.append(chunk)
        result.body = b"".join(chunks)
