"""Gzipped, size-rotated WARC output of a crawl (warcio), crash-safe by rename.

Each segment ``<prefix>-<NNNNN>.warc.gz`` is written under a temporary name
(``<name>.tmp-<pid>``, see :mod:`hanforge.atomic`), starts with a ``warcinfo`` record, then holds
one ``request`` + ``response`` pair per fetched URL (``WARC-Concurrent-To`` links them). When it
grows past ``max_bytes``, gets ``max_seconds`` old (or the crawl ends) it is flushed, fsynced and renamed, and only then
are its URLs marked done in the frontier (see :mod:`hanforge.corpus.crawl.frontier`). A killed
crawl therefore leaves only complete WARC files under final names.

Response bodies are stored decoded (httpx undoes gzip/deflate): ``Content-Encoding`` and
``Transfer-Encoding`` are renamed ``X-Crawler-Content-Encoding`` / ``X-Crawler-Transfer-Encoding``
and ``Content-Length`` is set to the stored length, as Common Crawl does, so any WARC reader
sees the payload it would decode.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from hanforge import __version__
from hanforge.atomic import TMP_MARKER
from hanforge.corpus.crawl.fetcher import FetchResult
from hanforge.corpus.crawl.frontier import Frontier

_RENAMED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


def archived_headers(headers: list[tuple[str, str]], *, body_length: int) -> list[tuple[str, str]]:
    """Response headers as archived for a decoded body; see the module docstring."""
    out = []
    for name, value in headers:
        if name.lower() in _RENAMED_HEADERS:
            out.append((f"X-Crawler-{name}", value))
        else:
            out.append((name, value))
    out.append(("Content-Length", str(body_length)))
    return out


class WarcSegmentWriter:
    """Writes request/response pairs into rotating WARC segments; see the module docstring."""

    def __init__(
        self,
        warc_dir: str | Path,
        *,
        frontier: Frontier,
        prefix: str,
        max_bytes: int,
        user_agent: str,
        max_seconds: float | None = None,
    ) -> None:
        self.warc_dir = Path(warc_dir)
        self.warc_dir.mkdir(parents=True, exist_ok=True)
        self.frontier = frontier
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._opened_at = 0.0
        self.user_agent = user_agent
        self.num_segments_completed = 0
        self._seq: int | None = None
        self._name = ""
        self._tmp: Path | None = None
        self._fh = None
        self._writer: WARCWriter | None = None
        self._num_records = 0

    def segment_name(self, seq: int) -> str:
        return f"{self.prefix}-{seq:05d}.warc.gz"

    def segment_exists(self, name: str) -> bool:
        return (self.warc_dir / name).is_file()

    def _open(self) -> None:
        self._seq, self._name = self.frontier.open_segment(self.segment_name)
        self._tmp = self.warc_dir / f"{self._name}{TMP_MARKER}{os.getpid()}"
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - the file stays open across calls; closed by close()
        self._writer = WARCWriter(self._fh, gzip=True)
        self._num_records = 0
        self._opened_at = time.monotonic()
        info = self._writer.create_warcinfo_record(
            self._name,
            {
                "software": f"hanforge/{__version__} (warcio)",
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "robots": "obey",
                "http-header-user-agent": self.user_agent,
            },
        )
        self._writer.write_record(info)

    def write(self, result: FetchResult) -> int:
        """Append the request and response records of ``result``; return the segment number."""
        if self._writer is None:
            self._open()
        assert self._writer is not None and self._seq is not None
        writer = self._writer
        extra = {"WARC-IP-Address": result.peer_address} if result.peer_address else {}
        req_headers = StatusAndHeaders(result.request_line, result.request_headers, is_http_request=True)
        request = writer.create_warc_record(
            result.url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=req_headers,
            warc_headers_dict=dict(extra),
        )
        status_line = f"{result.status} {result.reason_phrase}".strip()
        resp_headers = StatusAndHeaders(
            status_line,
            archived_headers(result.response_headers, body_length=len(result.body)),
            protocol=result.http_version or "HTTP/1.1",
        )
        response = writer.create_warc_record(
            result.url,
            "response",
            payload=io.BytesIO(result.body),
            length=len(result.body),
            http_headers=resp_headers,
            warc_headers_dict=dict(extra),
        )
        writer.write_request_response_pair(request, response)
        self._num_records += 2
        return self._seq

    def rotate_if_full(self) -> bool:
        """Complete the open segment if it reached ``max_bytes`` or ``max_seconds``; say if it did."""
        if self._fh is None:
            return False
        too_old = self.max_seconds is not None and time.monotonic() - self._opened_at >= self.max_seconds
        if self._fh.tell() >= self.max_bytes or too_old:
            self.complete()
            return True
        return False

    def complete(self) -> None:
        """Flush, fsync and rename the open segment, then mark its URLs done."""
        if self._fh is None:
            return
        assert self._tmp is not None and self._seq is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = self._writer = None
        if self._num_records == 0:
            self._tmp.unlink()
            self.frontier.drop_segment(self._seq)
        else:
            os.replace(self._tmp, self.warc_dir / self._name)
            dir_fd = os.open(self.warc_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self.frontier.commit_segment(self._seq)
            self.num_segments_completed += 1
        self._seq = self._tmp = None
