"""Test helpers for the ingest tests: WARC/JSONL/Parquet files built from the embedded sample.

WARCs are written with warcio's writer (an independent implementation from the FastWARC
parser the reader uses); every record is its own gzip member in ``.warc.gz``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass
class Page:
    """One HTTP response to write into a WARC."""

    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"
    lang: str | None = None  # WARC-Identified-Content-Language


def sample_pages(sample_html_files: list[Path], n: int, *, start: int = 0) -> list[Page]:
    """``n`` sample pages as WARC responses with made-up URLs (sample files are UTF-8)."""
    files = sample_html_files[start : start + n]
    return [Page(url=f"https://help.example.org/{f.parent.name}/{f.name}", body=f.read_bytes()) for f in files]


def write_warc(path: Path, pages: list[Page], *, gzip: bool = True, with_requests: bool = True) -> list[int]:
    """Write ``pages`` as request+response records; return each response record's byte offset."""
    offsets = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip, warc_version="1.1")
        for page in pages:
            if with_requests:
                writer.write_record(
                    writer.create_warc_record(
                        page.url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\nHost: help.example.org\r\n\r\n")
                    )
                )
            http = StatusAndHeaders(
                page.status,
                [("Content-Type", page.content_type), ("Content-Length", str(len(page.body)))],
                protocol="HTTP/1.1",
            )
            extra = {"WARC-Date": "2024-05-06T07:08:09Z"}
            if page.lang:
                extra["WARC-Identified-Content-Language"] = page.lang
            record = writer.create_warc_record(
                page.url, "response", payload=io.BytesIO(page.body), http_headers=http, warc_headers_dict=extra
            )
            offsets.append(fh.tell())
            writer.write_record(record)
    return offsets


def html_page(body_text: str, *, charset: str | None = "utf-8", title: str = "page") -> str:
    """A small HTML page around ``body_text`` (with a ``<meta charset>`` if ``charset``)."""
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if charset else ""
    return f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head><body><p>{body_text}</p></body></html>"


KOREAN_TEXT = (
    "똠방각하는 뷁 소리를 내며 햏 하고 웃었다. 쌰 하는 바람이 불었다. 이것은 한국어 문장이며 "
    "시험을 위해 만든 글입니다. 우리는 매일 지하철을 타고 회사에 갑니다. 날씨가 좋은 날에는 공원을 "
    "산책하는 것을 좋아합니다."
) * 3
JAPANESE_TEXT = (
    "これは日本語の文章です。東京は日本の首都であり、多くの人々が住んでいます。私たちは毎日電車に乗って"
    "会社へ行きます。天気が良い日には公園を散歩するのが好きです。"
) * 3
ENGLISH_TEXT = (
    "This is an English page about office software. It explains how to insert a table, how to "
    "format cells and how to print a document. "
) * 5
