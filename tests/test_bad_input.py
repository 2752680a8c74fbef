"""Bad input never crashes the reader and never loses a document silently.

Every case builds a damaged file from the embedded sample and checks: the reader finishes, the
good documents come out intact, and each bad thing is one dropped document with a reason.
"""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from fsspec.implementations.local import LocalFileSystem
from ingest_fixtures import sample_pages, write_warc

from hanforge.corpus.decode import DecodeConfig
from hanforge.corpus.ingest import DocumentReader, IngestConfig, InputFile, discover_inputs
from hanforge.corpus.steps import DROP_REASON, DROP_STEP


def read(paths, config=None):
    reader = DocumentReader(discover_inputs([str(p) for p in paths]), config=config or IngestConfig())
    docs = list(reader.run())
    stats = reader.stats.to_dict()["stats"]
    assert stats["documents"] == len(docs) == stats.get("kept", 0) + stats.get("dropped", 0)
    for doc in docs:
        if doc.metadata.get(DROP_REASON):
            assert doc.text == "" and doc.metadata[DROP_STEP] == "ingest" and "_raw" not in doc.metadata
            assert doc.metadata["source"]
    assert len({d.id for d in docs}) == len(docs), "placeholder ids must be unique and stable"
    return docs


def reasons(docs):
    return [d.metadata.get(DROP_REASON) for d in docs]


def urls(docs):
    return [d.metadata["url"] for d in docs if d.metadata.get(DROP_REASON) is None]


@pytest.fixture
def pages(sample_html_files):
    return sample_pages(sample_html_files, 6, start=20)


def test_truncated_gzip_warc_keeps_records_before_the_damage(tmp_path, pages):
    path = tmp_path / "cut.warc.gz"
    offsets = write_warc(path, pages)
    data = path.read_bytes()
    path.write_bytes(data[: offsets[4] + 200])  # inside the 5th response's gzip member
    docs = read([path])
    assert urls(docs) == [p.url for p in pages[:4]]
    assert [d.metadata["_raw"] for d in docs[:4]] == [p.body for p in pages[:4]]
    assert reasons(docs)[4:] == ["read_error:truncated_gzip"]


def test_cut_between_members_is_not_reported_as_damage(tmp_path, pages):
    path = tmp_path / "short.warc.gz"
    offsets = write_warc(path, pages)
    path.write_bytes(path.read_bytes()[: offsets[4]])  # ends with complete members
    assert reasons(read([path])) == [None] * 4


def test_truncated_plain_warc_record(tmp_path, pages):
    path = tmp_path / "cut.warc"
    offsets = write_warc(path, pages, gzip=False)
    path.write_bytes(path.read_bytes()[: offsets[5] + 900])
    assert reasons(read([path])) == [None] * 5 + ["read_error:truncated_record"]


def _gzip_members(data: bytes) -> list[bytes]:
    members, rest = [], data
    while rest:
        import zlib

        d = zlib.decompressobj(wbits=31)
        d.decompress(rest)
        members.append(rest[: len(rest) - len(d.unused_data)])
        rest = d.unused_data
    return members


def test_malformed_record_in_gzip_warc_resyncs(tmp_path, pages):
    path = tmp_path / "bad.warc.gz"
    write_warc(path, pages)
    members = _gzip_members(path.read_bytes())  # request, response, request, response, ...
    assert len(members) == 2 * len(pages)
    members[5] = gzip.compress(b"THIS IS NOT A WARC RECORD\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n")
    path.write_bytes(b"".join(members))
    docs = read([path])
    assert urls(docs) == [p.url for i, p in enumerate(pages) if i != 2]
    assert Counter(reasons(docs)) == {None: 5, "read_error:malformed_record": 1}
    kept = [d for d in docs if d.metadata.get(DROP_REASON) is None]
    assert [d.metadata["_raw"] for d in kept] == [p.body for i, p in enumerate(pages) if i != 2]


def test_malformed_record_in_plain_warc_resyncs(tmp_path, pages):
    path = tmp_path / "bad.warc"
    offsets = write_warc(path, pages, gzip=False)
    data = bytearray(path.read_bytes())
    data[offsets[3] : offsets[3] + 8] = b"GARBAGE!"  # the 4th response's "WARC/1.1" line
    path.write_bytes(bytes(data))
    docs = read([path])
    assert urls(docs) == [p.url for i, p in enumerate(pages) if i != 3]
    assert Counter(reasons(docs)) == {None: 5, "read_error:malformed_record": 1}


def test_record_with_overlong_length_does_not_swallow_the_rest(tmp_path, pages):
    path = tmp_path / "len.warc"
    offsets = write_warc(path, pages, gzip=False)
    data = path.read_bytes()
    i = data.index(b"Content-Length: ", offsets[2])
    path.write_bytes(data[:i] + b"Content-Length: 99" + data[i + 16 :])  # claims ~99x more bytes
    docs = read([path])
    assert urls(docs) == [p.url for i, p in enumerate(pages) if i != 2]
    assert reasons(docs)[2] == "read_error:truncated_record"


def test_garbage_warc_and_empty_files(tmp_path):
    (tmp_path / "junk.warc").write_bytes(b"hello, I am not a WARC file\n" * 50)
    (tmp_path / "junk2.warc.gz").write_bytes(gzip.compress(b"no warc here\n" * 50))
    for name in ["empty.warc.gz", "empty.html", "empty.jsonl", "empty.parquet", "empty.txt"]:
        (tmp_path / name).write_bytes(b"")
    docs = read(sorted(tmp_path.iterdir()))
    assert Counter(reasons(docs)) == {"empty_file": 5, "read_error:malformed_record": 2}


def test_huge_html_page_is_dropped_without_reading_it(tmp_path):
    path = tmp_path / "huge.html"
    with open(path, "wb") as fh:
        fh.write(b"<html><body>")
        fh.truncate(50 * 1024 * 1024)  # 50 MB (sparse): reading it would show in tracemalloc
    tracemalloc.start()
    docs = read([path])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert reasons(docs) == ["too_large"]
    assert peak < 5 * 1024 * 1024


def test_huge_jsonl_line_is_skipped_in_chunks(tmp_path):
    path = tmp_path / "rows.jsonl"
    big = json.dumps({"text": "가" * 3_000_000})
    path.write_text(json.dumps({"text": "첫 줄"}) + "\n" + big + "\n" + json.dumps({"text": "끝 줄"}) + "\n")
    tracemalloc.start()
    docs = read([path], IngestConfig(max_doc_bytes=1024 * 1024))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [d.text for d in docs] == ["첫 줄", "", "끝 줄"] and reasons(docs) == [None, "too_large", None]
    assert peak < 8 * 1024 * 1024  # the 18 MB line (\uXXXX escapes) was never held whole


def test_binary_file_named_html_is_dropped_by_decode(tmp_path, sample_html_files):
    (tmp_path / "noise.html").write_bytes(random.Random(0).randbytes(30_000))
    (tmp_path / "image.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (tmp_path / "good.html").write_bytes(sample_html_files[0].read_bytes())
    docs = read([tmp_path])
    assert reasons(docs) == [None, None, None]  # the reader cannot tell; decode can
    decoded = list(DecodeConfig().build().run(iter(docs)))
    assert reasons(decoded) == [None, "binary_content", "binary_content"]  # good, image, noise
    assert all(d.metadata[DROP_STEP] == "decode" for d in decoded[1:])
    assert all("_raw" not in d.metadata for d in decoded)


def test_unreadable_files_become_read_errors(tmp_path, sample_html_files, monkeypatch):
    good = tmp_path / "good.html"
    good.write_bytes(sample_html_files[0].read_bytes())
    locked = tmp_path / "locked.html"
    locked.write_bytes(b"<html>secret</html>")
    (tmp_path / "folder.html").mkdir()
    files = [
        InputFile(path=str(locked), kind="html", source="t", relpath="locked.html"),
        InputFile(path=str(tmp_path / "folder.html"), kind="html", source="t", relpath="folder.html"),
        InputFile(path=str(tmp_path / "gone.html"), kind="html", source="t", relpath="gone.html"),
        InputFile(path=str(good), kind="html", source="t", relpath="good.html"),
    ]
    real_open = LocalFileSystem._open

    def deny(self, path, *args, **kwargs):  # tests run as root, so chmod 000 would not deny
        if str(path).endswith("locked.html"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(self, path, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "_open", deny)
    reader = DocumentReader(files, config=IngestConfig())
    docs = list(reader.run())
    assert reasons(docs) == ["read_error:permission_denied", "read_error:is_a_directory", "read_error:not_found", None]
    assert docs[3].metadata["_raw"] == good.read_bytes()


def test_invalid_lines_in_jsonl_are_dropped_one_by_one(tmp_path):
    lines = [
        json.dumps({"text": "좋은 첫 문서"}).encode(),
        b'{"text": "\xff\xfe broken utf-8"}',
        json.dumps({"text": "좋은 둘째 문서"}, ensure_ascii=False).encode(),
        b'{"text": "unterminated',
        b"[1, 2, 3]",
        json.dumps({"body": "no text key"}).encode(),
        json.dumps({"text": 42}).encode(),
        b"",
        json.dumps({"text": "좋은 셋째 문서"}, ensure_ascii=False).encode(),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    docs = read([path])
    assert reasons(docs) == [
        None,
        "invalid_utf8",
        None,
        "invalid_json",
        "invalid_json",
        "missing_text_field",
        "missing_text_field",
        None,
    ]
    assert [d.text for d in docs if not d.metadata.get(DROP_REASON)] == [
        "좋은 첫 문서",
        "좋은 둘째 문서",
        "좋은 셋째 문서",
    ]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_jsonl(tmp_path, suffix):
    data = b"".join(json.dumps({"text": f"문서 {i} " * 20}, ensure_ascii=False).encode() + b"\n" for i in range(3000))
    blob = gzip.compress(data) if suffix == ".jsonl.gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"rows{suffix}"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    docs = read([path])
    assert reasons(docs)[-1] == "read_error:truncated"
    assert set(reasons(docs)[:-1]) <= {None}  # every complete line before the cut is a document
    assert [d.text for d in docs[:-1]] == [f"문서 {i} " * 20 for i in range(len(docs) - 1)]


def test_corrupt_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"text": [f"문서 {i}" for i in range(100)]}), good)
    (tmp_path / "cut.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "noise.parquet").write_bytes(random.Random(1).randbytes(5000))
    docs = read([tmp_path / "cut.parquet", tmp_path / "noise.parquet", good])
    assert reasons(docs)[:2] == ["read_error:corrupt_parquet", "read_error:corrupt_parquet"]
    assert [d.text for d in docs[2:]] == [f"문서 {i}" for i in range(100)]


def test_everything_bad_at_once_is_accounted(tmp_path, pages, sample_html_files):
    folder = tmp_path / "mess"
    folder.mkdir()
    write_warc(folder / "a.warc.gz", pages)
    offsets = write_warc(folder / "b.warc.gz", sample_pages(sample_html_files, 6, start=40))
    (folder / "b.warc.gz").write_bytes((folder / "b.warc.gz").read_bytes()[: offsets[3] + 50])
    (folder / "c.html").write_bytes(b"")
    (folder / "d.jsonl").write_bytes(b'{"text": "ok"}\n\xff\n')
    (folder / "e.parquet").write_bytes(b"PAR1 nonsense")
    (folder / "f.pdf").write_bytes(b"%PDF-1.4")
    (folder / "g.html").write_bytes(sample_html_files[1].read_bytes())
    docs = read([folder])
    assert Counter(reasons(docs)) == {
        None: 6 + 3 + 1 + 1,
        "read_error:truncated_gzip": 1,
        "empty_file": 1,
        "invalid_utf8": 1,
        "read_error:corrupt_parquet": 1,
        "unsupported_file": 1,
    }
    assert read([folder]) == docs  # deterministic, including the placeholders
    assert Path(folder).exists()


def test_single_gzip_stream_warc_truncated(tmp_path, pages):
    plain = tmp_path / "all.warc"
    offsets = write_warc(plain, pages, gzip=False)
    whole = gzip.compress(plain.read_bytes())  # one gzip stream for the whole file, not per record
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "whole.warc.gz").write_bytes(whole)
    assert reasons(read([tmp_path / "in" / "whole.warc.gz"])) == [None] * 6
    cut = gzip.compress(plain.read_bytes()[: offsets[4] + 3000])[:-8]  # stream and record both cut
    (tmp_path / "in" / "whole.warc.gz").write_bytes(cut)
    docs = read([tmp_path / "in" / "whole.warc.gz"])
    assert urls(docs) == [p.url for p in pages[:4]]
    assert len(docs) == 5 and reasons(docs)[4].startswith("read_error:truncated")
