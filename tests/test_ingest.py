"""Tests of input discovery and every reader on files built from the embedded Korean sample."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from ingest_fixtures import Page, sample_pages, write_warc

from hanforge.config import ConfigBase
from hanforge.corpus.ingest import (
    DocumentReader,
    IngestConfig,
    InputFile,
    discover_inputs,
    document_id,
    kind_of,
    unsupported_files,
)
from hanforge.corpus.steps import DROP_REASON, DROP_STEP
from hanforge.errors import ConfigError, InputError


def read_all(files, config=None, **kw):
    return list(DocumentReader(files, config=config or IngestConfig()).run(**kw))


def kept(docs):
    return [d for d in docs if d.metadata.get(DROP_REASON) is None]


# --- discovery ------------------------------------------------------------------------------


def test_discover_sample_folder_reports_unsupported_files(sample_dir):
    files = discover_inputs([str(sample_dir)])
    html = [f for f in files if f.kind == "html"]
    assert len(html) == len(list(sample_dir.rglob("*.html")))
    assert [f.relpath for f in files] == sorted(f.relpath for f in files)
    assert {f.source for f in files} == {"sample"}
    on_disk = {p.relative_to(sample_dir).as_posix() for p in sample_dir.rglob("*") if p.is_file()}
    assert {f.relpath for f in files} == on_disk
    skipped = {f.relpath for f in unsupported_files(files)}
    assert {"README.md", "debian-faq-ko/COPYRIGHT", "libreoffice-help-ko/COPYRIGHT"} <= skipped
    assert skipped == {r for r in on_disk if kind_of(r) is None}
    # ... and the reader turns each into a counted drop, so nothing is silently ignored
    docs = read_all(unsupported_files(files))
    assert [d.metadata[DROP_REASON] for d in docs] == ["unsupported_file"] * len(skipped)


def test_discover_kinds_sources_and_errors(tmp_path):
    for name in ["a.warc.gz", "b.WARC", "c.htm", "d.jsonl.zst", "e.parquet", "f.txt", "g.jsonl.gz", "h.xhtml"]:
        (tmp_path / "in" / "sub").mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / "sub" / name).write_bytes(b"x")
    files = discover_inputs([str(tmp_path / "in")])
    assert [(f.relpath, f.kind) for f in files] == [
        ("sub/a.warc.gz", "warc"),
        ("sub/b.WARC", "warc"),
        ("sub/c.htm", "html"),
        ("sub/d.jsonl.zst", "jsonl"),
        ("sub/e.parquet", "parquet"),
        ("sub/f.txt", "text"),
        ("sub/g.jsonl.gz", "jsonl"),
        ("sub/h.xhtml", "html"),
    ]
    single = discover_inputs([str(tmp_path / "in" / "sub" / "a.warc.gz")])
    assert single == [
        InputFile(path=str(tmp_path / "in" / "sub" / "a.warc.gz"), kind="warc", source="a", relpath="a.warc.gz")
    ]
    assert {f.source for f in discover_inputs([str(tmp_path / "in")], source="web")} == {"web"}
    with pytest.raises(InputError, match="does not exist"):
        discover_inputs([str(tmp_path / "missing")])
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(InputError, match="notes.md: unknown input file type"):
        discover_inputs([str(tmp_path / "notes.md")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no files"):
        discover_inputs([str(tmp_path / "empty")])
    with pytest.raises(InputError, match="named twice"):
        discover_inputs([str(tmp_path / "in"), str(tmp_path / "in" / "sub" / "f.txt")])
    assert kind_of("x.JSONL.GZ") == "jsonl" and kind_of("x.json") is None


def test_ingest_config_is_typed_and_validated():
    cfg = IngestConfig.from_table({"max_doc_bytes": 1000, "text_field": "content", "korean_only_warc": True})
    assert isinstance(cfg, ConfigBase) and cfg.max_doc_bytes == 1000 and cfg.text_field == "content"
    with pytest.raises(ConfigError, match="max_doc_bytes"):
        IngestConfig.from_table({"max_doc_bytes": 0})
    with pytest.raises(ConfigError, match="precheck_min_ratio"):
        IngestConfig.from_table({"precheck_min_ratio": 2.0})
    with pytest.raises(ConfigError, match="unknown key"):
        IngestConfig.from_table({"text_column": "x"})


# --- readers --------------------------------------------------------------------------------


def test_html_folder_reader(sample_dir):
    files = discover_inputs([str(sample_dir / "debian-faq-ko")])
    docs = read_all(files)
    html = [f for f in files if f.kind == "html"]
    assert len(docs) == len(files) and len(kept(docs)) == len(html)
    by_id = {d.id: d for d in kept(docs)}
    for f in html:
        doc = by_id[document_id(f"{f.source}/{f.relpath}", 0)]
        assert doc.metadata["_raw"] == Path(f.path).read_bytes()
        assert doc.metadata["_format"] == "html" and doc.metadata["_http_charset"] is None
        assert doc.metadata["source"] == "debian-faq-ko"
        assert doc.metadata["url"] is None and doc.metadata["fetch_date"] is None


@pytest.mark.parametrize("gz", [True, False])
def test_warc_reader_yields_response_records(tmp_path, sample_html_files, gz):
    pages = sample_pages(sample_html_files, 6)
    pages.append(Page(url="https://help.example.org/logo.png", body=b"\x89PNG....", content_type="image/png"))
    pages.append(Page(url="https://help.example.org/gone", body=b"<html>gone</html>", status="404 Not Found"))
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    offsets = write_warc(path, pages, gzip=gz)
    docs = read_all(discover_inputs([str(path)]))
    assert len(docs) == len(pages)  # one document per response record, requests are not documents
    for doc, page, offset in zip(docs[:6], pages, offsets, strict=False):
        assert doc.id == document_id(page.url, offset)
        assert doc.metadata["_raw"] == page.body
        assert doc.metadata["url"] == page.url
        assert doc.metadata["fetch_date"] == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        assert doc.metadata["_http_charset"] == "utf-8" and doc.metadata["_content_type"] == "text/html"
        assert doc.metadata["_http_headers"]["Content-Type"] == "text/html; charset=utf-8"
        assert doc.metadata["source"] == "crawl" and DROP_REASON not in doc.metadata
    assert [d.metadata[DROP_REASON] for d in docs[6:]] == ["unsupported_content_type", "http_status:404"]
    assert all(d.text == "" and d.metadata[DROP_STEP] == "ingest" for d in docs[6:])


def test_warc_too_large_record_is_dropped_unread(tmp_path, sample_html_files):
    pages = sample_pages(sample_html_files, 3)
    path = tmp_path / "c.warc.gz"
    write_warc(path, pages)
    limit = sorted(len(p.body) for p in pages)[1]
    docs = read_all(discover_inputs([str(path)]), IngestConfig(max_doc_bytes=limit))
    reasons = [d.metadata.get(DROP_REASON) for d in docs]
    assert reasons == [None if len(p.body) <= limit else "too_large" for p in pages]
    assert all("_raw" not in d.metadata for d in docs if d.metadata.get(DROP_REASON))


def test_korean_only_warc_skips_non_korean_records(tmp_path, sample_html_files):
    from ingest_fixtures import ENGLISH_TEXT, JAPANESE_TEXT, html_page

    pages = sample_pages(sample_html_files, 2)
    pages[1].lang = "kor,eng"
    pages += [
        Page(url="https://en.example.org/", body=html_page(ENGLISH_TEXT).encode()),
        Page(url="https://ja.example.org/", body=html_page(JAPANESE_TEXT).encode()),
        Page(url="https://labelled.example.org/", body=sample_html_files[3].read_bytes(), lang="eng"),
    ]
    path = tmp_path / "mixed.warc.gz"
    write_warc(path, pages)
    files = discover_inputs([str(path)])
    every = read_all(files)
    assert [d.metadata.get(DROP_REASON) for d in every] == [None] * 5
    korean = read_all(files, IngestConfig(korean_only_warc=True))
    assert [d.metadata.get(DROP_REASON) for d in korean] == [None, None] + ["not_korean_precheck"] * 3
    assert [d.id for d in korean] == [d.id for d in every]  # same documents, only their fate differs
    assert all(d.text == "" and "_raw" not in d.metadata for d in korean[2:])


def _rows(sample_html_files, n):
    return [
        {"text": f.read_text(encoding="utf-8"), "url": f"https://x.org/{i}", "id": f"doc-{i}"}
        for i, f in enumerate(sample_html_files[:n])
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_reader(tmp_path, sample_html_files, suffix):
    rows = _rows(sample_html_files, 5)
    rows[2].pop("url")
    data = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)
    path = tmp_path / f"web{suffix}"
    if suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".jsonl.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        path.write_bytes(data)
    docs = read_all(discover_inputs([str(path)]))
    assert [d.text for d in docs] == [r["text"] for r in rows]
    assert [d.metadata["url"] for d in docs] == [r.get("url") for r in rows]
    offsets = [0]
    for r in rows[:-1]:
        offsets.append(offsets[-1] + len(json.dumps(r, ensure_ascii=False).encode()) + 1)
    assert [d.id for d in docs] == [
        document_id(r.get("url") or f"web/{path.name}", o) for r, o in zip(rows, offsets, strict=True)
    ]
    assert all(d.metadata["_format"] == "text" and d.metadata["source"] == "web" for d in docs)
    by_field = read_all(discover_inputs([str(path)]), IngestConfig(id_field="id"))
    assert [d.id for d in by_field] == [r["id"] for r in rows]
    # the record's own id survives whatever hanforge's id is, and every row names its file
    assert (
        [d.metadata["input_id"] for d in docs] == [d.metadata["input_id"] for d in by_field] == [r["id"] for r in rows]
    )
    assert {d.metadata["path"] for d in docs} == {path.name}
    off = read_all(discover_inputs([str(path)]), IngestConfig(record_id_field=None))
    assert all("input_id" not in d.metadata for d in off)


def test_parquet_reader_with_configured_column(tmp_path, sample_html_files):
    rows = _rows(sample_html_files, 7)
    table = pa.table(
        {"body": [r["text"] for r in rows], "link": [r["url"] for r in rows], "id": [i * 10 for i in range(len(rows))]}
    )
    path = tmp_path / "dump.parquet"
    pq.write_table(table, path, row_group_size=3)
    docs = read_all(discover_inputs([str(path)]), IngestConfig(text_field="body", url_field="link"))
    assert [d.text for d in docs] == [r["text"] for r in rows]
    assert [d.id for d in docs] == [document_id(r["url"], i) for i, r in enumerate(rows)]
    assert [d.metadata["input_id"] for d in docs] == [str(i * 10) for i in range(len(rows))]
    assert {d.metadata["path"] for d in docs} == {"dump.parquet"}
    missing = read_all(discover_inputs([str(path)]))  # default text column "text" is absent
    assert [d.metadata[DROP_REASON] for d in missing] == ["missing_text_column"]


def test_plain_text_reader_decodes(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "utf8.txt").write_text("한국어 텍스트 파일입니다. 똠방각하.", encoding="utf-8")
    (tmp_path / "t" / "legacy.txt").write_bytes("한국어 텍스트 파일입니다. 똠방각하 뷁.".encode("cp949"))
    docs = read_all(discover_inputs([str(tmp_path / "t")]))
    assert [(d.text, d.metadata["charset"]) for d in docs] == [
        ("한국어 텍스트 파일입니다. 똠방각하 뷁.", "cp949"),
        ("한국어 텍스트 파일입니다. 똠방각하.", "utf-8"),
    ]
    assert docs[0].id == document_id("t/legacy.txt", 0)


def test_ids_do_not_depend_on_location(tmp_path, sample_dir, sample_html_files):
    first = tmp_path / "one" / "corpus"
    shutil.copytree(sample_dir / "debian-faq-ko", first / "faq")
    write_warc(first / "crawl.warc.gz", sample_pages(sample_html_files, 4))
    (first / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(sample_html_files, 3)))
    second = tmp_path / "elsewhere" / "deeper" / "corpus"
    shutil.copytree(first, second)
    a = read_all(discover_inputs([str(first)]))
    b = read_all(discover_inputs([str(second)]))
    assert len(a) == 17 + 1 + 4 + 3  # FAQ pages + COPYRIGHT (unsupported) + WARC records + rows
    assert [d.id for d in a] == [d.id for d in b]
    assert len({d.id for d in a}) == len(a)
    # the same relative paths under a second input folder (another source) get other ids;
    # URL-keyed ids (WARC records, rows with a url) are the same: same URL at the same offset
    other = tmp_path / "mirror"
    shutil.copytree(first, other)
    both = read_all(discover_inputs([str(first), str(other)]))
    path_keyed = [d.id for d in both if d.metadata["url"] is None]
    url_keyed = [d.id for d in both if d.metadata["url"] is not None]
    assert len(set(path_keyed)) == len(path_keyed) == 2 * 18
    assert len(set(url_keyed)) == len(url_keyed) // 2 == 4 + 3


def test_sharding_by_rank_covers_every_file_once(sample_dir):
    files = discover_inputs([str(sample_dir)])
    reader = DocumentReader(files, config=IngestConfig())
    whole = [d.id for d in reader.run()]
    parts = [
        d.id for rank in range(3) for d in DocumentReader(files, config=IngestConfig()).run(rank=rank, world_size=3)
    ]
    assert sorted(parts) == sorted(whole) and len(parts) == len(whole)
    stats = reader.stats.to_dict()["stats"]
    assert stats["documents"] == len(whole) == stats["kept"] + stats["dropped"]


def test_fsspec_urls_work(sample_html_files):
    fs = fsspec.filesystem("memory")
    for f in sample_html_files[:3]:
        fs.pipe(f"/hf-test/pages/{f.name}", f.read_bytes())
    files = discover_inputs(["memory://hf-test/pages"])
    assert all(f.path.startswith("memory://") for f in files)
    docs = read_all(files)
    assert [d.metadata["_raw"] for d in docs] == [
        f.read_bytes() for f in sorted(sample_html_files[:3], key=lambda p: p.name)
    ]
    assert {d.metadata["source"] for d in docs} == {"pages"}
    fs.rm("/hf-test", recursive=True)
