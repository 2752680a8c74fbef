"""Tests of the ``extract`` step (HTML -> main text) on the embedded Korean sample pages."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from datatrove.data import Document

import hanforge.config as hconfig
from hanforge.corpus.extract import ExtractConfig, ExtractStep
from hanforge.corpus.steps import DROP_REASON, DROP_STEP
from hanforge.errors import ConfigError

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def html_doc(markup: str, doc_id: str = "d") -> Document:
    return Document(text=markup, id=doc_id, metadata={"_format": "html", "_raw": markup.encode()})


def run_step(step: ExtractStep, docs: list[Document]) -> list[Document]:
    return list(step.run(iter(docs)))


@pytest.fixture(scope="module")
def lo_pages(sample_dir) -> dict[str, str]:
    files = sorted((sample_dir / "libreoffice-help-ko").rglob("*.html"))
    return {f.name: f.read_text(encoding="utf-8") for f in files}


def test_registered_and_validated():
    assert hconfig._STEP_TYPES["extract"] is ExtractConfig
    cfg = ExtractConfig.from_table({"backend": "trafilatura", "favor": "precision", "timeout_s": 2})
    assert cfg.backend == "trafilatura" and cfg.timeout_s == 2.0
    with pytest.raises(ConfigError, match="timeout_s"):
        ExtractConfig.from_table({"timeout_s": -1})
    with pytest.raises(ConfigError, match="max_html_bytes"):
        ExtractConfig.from_table({"max_html_bytes": 0})
    with pytest.raises(ConfigError, match="backend"):
        ExtractConfig.from_table({"backend": "bs4"})
    with pytest.raises(ConfigError, match="tiemout_s"):
        ExtractConfig.from_table({"tiemout_s": 1})
    assert isinstance(ExtractConfig().build(), ExtractStep)


@pytest.mark.parametrize("backend", ["content", "resiliparse", "trafilatura"])
def test_extracts_korean_main_text_from_real_pages(backend, sample_html_files):
    files = sample_html_files[::8]  # both sample folders, 19 pages
    docs = [html_doc(f.read_text(encoding="utf-8"), f.name) for f in files]
    markup_hangul = [len(HANGUL.findall(d.text)) for d in docs]
    out = run_step(ExtractConfig(backend=backend).build(), docs)
    assert len(out) == len(files)
    kept = [d for d in out if d.metadata.get(DROP_REASON) is None]
    assert len(kept) >= len(files) - 2  # trafilatura gives up on a few tiny help pages
    for doc in out:
        assert "_raw" not in doc.metadata
        if doc.metadata.get(DROP_REASON) is not None:
            assert doc.metadata[DROP_REASON] == "extract_empty"
            assert doc.metadata[DROP_STEP] == "extract"
            continue
        assert doc.metadata["_format"] == "text"
        assert "<p" not in doc.text and "</" not in doc.text and "<script" not in doc.text
    kept_hangul = sum(len(HANGUL.findall(d.text)) for d in kept)
    assert kept_hangul > 0.5 * sum(markup_hangul)


def test_resiliparse_keeps_text_and_drops_navigation(lo_pages):
    doc = html_doc(lo_pages["01020000.html"])
    assert ExtractStep().process(doc) is None
    # the header/side navigation of every LibreOffice help page is gone
    assert "Search in all modules" not in doc.text
    assert "LibreOffice 7.4 Help" not in doc.text
    assert "\n" in doc.text  # block structure kept as lines (line filters need it)


def test_inline_html_both_backends():
    body = "".join(
        f"<p>한국어 본문 문단 {i}번입니다. 이 문장은 충분히 길어서 본문으로 인식됩니다.</p>" for i in range(12)
    )
    markup = (
        "<html><head><title>제목</title><script>var x = '스크립트';</script>"
        "<style>p { color: red }</style></head><body><article>" + body + "</article></body></html>"
    )
    for backend in ("content", "resiliparse", "trafilatura"):
        doc = html_doc(markup)
        assert ExtractConfig(backend=backend).build().process(doc) is None, backend
        assert "본문 문단 0번" in doc.text and "본문 문단 11번" in doc.text
        assert "스크립트" not in doc.text and "color" not in doc.text


def test_text_documents_pass_through_untouched():
    step = ExtractStep()
    text = "<p>이미 평문인 문서</p> &amp;"
    doc = Document(text=text, id="t", metadata={"_format": "text"})
    bare = Document(text=text, id="b", metadata={})
    out = run_step(step, [doc, bare])
    assert [d.text for d in out] == [text, text]
    assert all(d.metadata.get(DROP_REASON) is None for d in out)


def test_unknown_format_is_a_counted_drop():
    doc = Document(text="x", id="u", metadata={"_format": "pdf"})
    (out,) = run_step(ExtractStep(), [doc])
    assert out.metadata[DROP_REASON] == "extract_unknown_format:pdf"


def test_empty_result_is_dropped():
    docs = [
        html_doc("<html><head><title>t</title></head><body><script>var a=1;</script></body></html>", "a"),
        html_doc("<html><body>   \n\t  </body></html>", "b"),
        html_doc("", "c"),
    ]
    out = run_step(ExtractStep(), docs)
    assert [d.metadata[DROP_REASON] for d in out] == ["extract_empty"] * 3


def test_size_cap_counts_utf8_bytes():
    markup = "<html><body><p>" + "가" * 100 + "</p></body></html>"  # 100 Hangul = 300 bytes
    size = len(markup.encode("utf-8"))
    assert size > len(markup)
    at_limit = html_doc(markup)
    assert ExtractConfig(max_html_bytes=size).build().process(at_limit) is None
    over = html_doc(markup)
    assert ExtractConfig(max_html_bytes=size - 1).build().process(over) == "too_large"
    assert "_raw" not in over.metadata
    assert ExtractConfig(max_html_bytes=len(markup) + 10).build().process(html_doc(markup)) == "too_large"


def test_slow_extraction_drops_with_extract_timeout():
    # ~2 MB of paragraphs: trafilatura (Python) needs far more than 1 ms on any machine. The
    # limit is enforced from outside the parser (a supervised child process that is killed),
    # so it holds even though trafilatura on lxml 6 swallows exceptions raised inside it.
    markup = (
        "<html><body>" + "<div><p>아주 긴 문서의 문단입니다. 이 문장은 반복됩니다.</p></div>" * 30000 + "</body></html>"
    )
    step = ExtractConfig(backend="trafilatura", timeout_s=0.001).build()
    started = time.monotonic()
    (out,) = run_step(step, [html_doc(markup)])
    assert out.metadata[DROP_REASON] == "extract_timeout"
    assert time.monotonic() - started < 30  # returned long before trafilatura could finish
    assert step.stats["extract/worker_restarts"].total == 1


def test_nested_div_page_is_cut_at_the_limit_and_the_next_page_still_extracts():
    # 100,000 nested <div>s: resiliparse's C parser needs minutes (quadratic in depth) and never
    # returns to Python; the supervised worker is killed at the limit and forked again.
    nested = "<html><body>" + "<div>" * 100_000 + "한국어 본문" + "</div>" * 100_000 + "</body></html>"
    normal = (
        "<html><body><article>"
        + "<p>한국어 본문 문단입니다. 이 문장은 충분히 길어서 본문으로 인식됩니다.</p>" * 8
        + "</article></body></html>"
    )
    step = ExtractConfig(backend="resiliparse", timeout_s=0.5).build()
    started = time.monotonic()
    out = run_step(step, [html_doc(nested, "nested"), html_doc(normal, "normal")])
    assert time.monotonic() - started < 30
    assert [d.metadata.get(DROP_REASON) for d in out] == ["extract_timeout", None]
    assert "본문 문단입니다" in out[1].text
    assert step._worker is not None and step._worker.pid is None  # run() ended the child


def test_parser_crash_is_a_counted_drop_and_the_worker_restarts(tmp_path):
    step = ExtractConfig(timeout_s=30).build()
    crashed = tmp_path / "crashed"  # a file, not a variable: each forked child starts afresh

    def crashes_once(markup: str) -> str:  # stands in for a parser that segfaults on one page
        if not crashed.exists():
            crashed.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return "살아남은 본문"

    step._extract = crashes_once
    out = run_step(step, [html_doc("<p>a</p>", "a"), html_doc("<p>b</p>", "b")])
    assert [d.metadata.get(DROP_REASON) for d in out] == ["extract_error:WorkerCrashed", None]
    assert out[1].text == "살아남은 본문"


def test_deterministic_and_counts_add_up(sample_html_files):
    files = sample_html_files[:30]
    results = []
    for _ in range(2):
        step = ExtractStep()
        out = run_step(step, [html_doc(f.read_text(encoding="utf-8"), f.name) for f in files])
        kept, dropped = step.stats["kept"].total, step.stats["dropped"].total
        assert kept + dropped == step.stats["docs_in"].total == len(files)
        results.append([(d.id, d.text, d.metadata.get(DROP_REASON)) for d in out])
    assert results[0] == results[1]
