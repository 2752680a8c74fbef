"""Tests of charset decoding for Korean pages, the ``decode`` step and the raw-byte Hangul pre-check."""

from __future__ import annotations

import random

import pytest
from datatrove.data import Document
from ingest_fixtures import ENGLISH_TEXT, JAPANESE_TEXT, KOREAN_TEXT, html_page

from hanforge.config import parse_step, step_types
from hanforge.corpus.decode import (
    DecodeConfig,
    DecodeError,
    decode_html_bytes,
    decode_page,
    hangul_byte_ratio,
    korean_precheck,
    looks_korean,
    normalize_charset,
)
from hanforge.corpus.hangul_precheck import HangulPrecheckConfig
from hanforge.corpus.steps import DROP_REASON, DROP_STEP
from hanforge.errors import ConfigError, HanforgeError

EXTENDED = "똠 뷁 햏 쌰"  # UHC extension syllables: Python's euc-kr codec rejects them


def test_extended_syllables_survive_euc_kr_labels():
    with pytest.raises(UnicodeDecodeError):
        EXTENDED.encode("cp949").decode("euc-kr")
    page = html_page(KOREAN_TEXT + EXTENDED, charset="euc-kr")
    raw = page.encode("cp949")
    for http in ["euc-kr", "EUC-KR", "ks_c_5601-1987", "ks_c_5601", "x-windows-949", "ksc5601", None]:
        text, charset = decode_html_bytes(raw, http_charset=http)
        assert text == page and charset == "cp949", http
    no_meta = html_page(KOREAN_TEXT + EXTENDED, charset=None)
    assert decode_html_bytes(no_meta.encode("cp949"), http_charset="ks_c_5601-1987") == (no_meta, "cp949")
    assert decode_page(raw).source == "meta" and decode_page(raw, http_charset="euc-kr").source == "http"


def test_wrong_labels_are_detected_both_ways():
    utf8_page = html_page(KOREAN_TEXT + EXTENDED, charset="euc-kr")
    result = decode_page(utf8_page.encode("utf-8"), http_charset="euc-kr")  # says euc-kr, is UTF-8
    assert (result.text, result.charset, result.source) == (utf8_page, "utf-8", "utf8_override")
    cp949_page = html_page(KOREAN_TEXT + EXTENDED, charset="utf-8")
    result = decode_page(cp949_page.encode("cp949"), http_charset="utf-8")  # says UTF-8, is CP949
    assert (result.text, result.charset) == (cp949_page, "cp949")
    assert result.num_replacements == 0
    latin_label = html_page(KOREAN_TEXT, charset="iso-8859-1")  # a Latin-1 label on a Korean UTF-8 page
    assert decode_html_bytes(latin_label.encode("utf-8")) == (latin_label, "utf-8")


def test_unlabelled_pages_are_detected():
    page = html_page(KOREAN_TEXT + EXTENDED, charset=None)
    assert decode_html_bytes(page.encode("utf-8")) == (page, "utf-8")
    assert decode_html_bytes(page.encode("cp949")) == (page, "cp949")
    japanese = html_page(JAPANESE_TEXT, charset=None)
    text, charset = decode_html_bytes(japanese.encode("shift_jis"))
    assert text == japanese and charset in {"shift_jis", "cp932"}


def test_bom_wins_and_is_stripped():
    page = html_page(KOREAN_TEXT, charset="euc-kr")
    assert decode_html_bytes(b"\xef\xbb\xbf" + page.encode("utf-8"), http_charset="euc-kr") == (page, "utf-8")
    assert decode_html_bytes(page.encode("utf-16"))[0] == page


def test_invalid_utf8_is_dropped_beyond_tolerance_never_replaced_silently():
    page = html_page(KOREAN_TEXT * 3, charset="utf-8").encode("utf-8")
    one_bad = page.replace(b"</p>", b"\xed</p>")  # a single cut character: tolerated, counted
    result = decode_page(one_bad)
    assert result.charset == "utf-8" and result.num_replacements == 1
    rng = random.Random(3)
    broken = bytearray(page)
    for i in rng.sample(range(200, len(broken)), 60):  # 60 stray high bytes: undecodable
        broken[i] = 0xFF
    with pytest.raises(DecodeError) as info:
        decode_html_bytes(bytes(broken), http_charset="utf-8")
    assert info.value.reason == "undecodable" and isinstance(info.value, HanforgeError)
    assert "replacement" in str(info.value)


def test_binary_content_is_recognised():
    for blob in [
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"%PDF-1.7\n...",
        random.Random(0).randbytes(4000),
        b"<html>" + b"\x00\x01\x02\x03" * 500,
    ]:
        with pytest.raises(DecodeError) as info:
            decode_html_bytes(blob)
        assert info.value.reason == "binary_content"


def test_normalize_charset_labels():
    assert {normalize_charset(x) for x in ["euc-kr", " KS_C_5601-1987 ", "'ksc5601'", "x-windows-949", "uhc"]} == {
        "cp949"
    }
    assert normalize_charset("UTF8") == "utf-8" and normalize_charset("latin1") == "cp1252"
    assert normalize_charset("no-such-charset") is None and normalize_charset("") is None


def _html_doc(raw: bytes, *, doc_id: str, http_charset: str | None = None, warc_lang: str | None = None):
    return Document(
        text="",
        id=doc_id,
        metadata={
            "_format": "html",
            "_raw": raw,
            "_http_charset": http_charset,
            "_warc_lang": warc_lang,
            "source": "t",
        },
    )


def test_decode_step_sets_text_and_charset_and_frees_raw(sample_html_files):
    step = parse_step({"type": "decode", "max_replacement_ratio": 0.01}, where="steps[0]").build()
    good = sample_html_files[0].read_bytes()
    legacy = html_page(KOREAN_TEXT + EXTENDED, charset="euc-kr").encode("cp949")
    docs = [
        _html_doc(good, doc_id="a"),
        _html_doc(legacy, doc_id="b", http_charset="euc-kr"),
        _html_doc(b"\x89PNG\r\n\x1a\n" + bytes(100), doc_id="c"),
        Document(text="이미 텍스트", id="d", metadata={"_format": "text"}),
    ]
    out = list(step.run(iter(docs)))
    assert out[0].text == good.decode("utf-8") and out[0].metadata["charset"] == "utf-8"
    assert EXTENDED in out[1].text and out[1].metadata["charset"] == "cp949"
    assert out[2].metadata[DROP_REASON] == "binary_content" and out[2].metadata[DROP_STEP] == "decode"
    assert out[3].text == "이미 텍스트" and DROP_REASON not in out[3].metadata
    assert all("_raw" not in d.metadata for d in out)
    stats = step.stats.to_dict()["stats"]
    assert stats["charset/cp949"] == 1 and stats["dropped/binary_content"] == 1
    with pytest.raises(ConfigError, match="max_replacement_ratio"):
        DecodeConfig.from_table({"max_replacement_ratio": 1.5})


# --- raw-byte pre-check -------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "cp949"])
def test_precheck_keeps_korean_pages(encoding):
    page = html_page(KOREAN_TEXT + EXTENDED, charset=encoding).encode(encoding)
    assert hangul_byte_ratio(page) > 0.3
    assert looks_korean(page, min_ratio=0.01)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (ENGLISH_TEXT, "utf-8"),
        (JAPANESE_TEXT, "utf-8"),
        (JAPANESE_TEXT, "shift_jis"),
        (JAPANESE_TEXT, "euc-jp"),
        ("这是一个用于测试的中文段落。北京是中华人民共和国的首都，有很多人居住在这里。" * 5, "gb2312"),
        ("Это русский текст для проверки. " * 10, "cp1251"),
        ("Это русский текст для проверки. " * 10, "utf-8"),
    ],
)
def test_precheck_rejects_other_languages(text, encoding):
    page = html_page(text, charset=encoding).encode(encoding)
    assert hangul_byte_ratio(page) == 0.0
    assert not looks_korean(page, min_ratio=0.001)


def test_precheck_counts_hangul_share_of_bytes():
    korean = "가나다라마바사".encode()
    assert hangul_byte_ratio(korean) == pytest.approx(1.0)
    assert hangul_byte_ratio(korean + b"a" * 21) == pytest.approx(0.5)
    # CP949: 11 syllables in 22 bytes + 22 ASCII bytes, measured as if UTF-8: 33 / (33 + 22)
    assert hangul_byte_ratio("가나다라마바사이다는의".encode("cp949") + b"a" * 22) == pytest.approx(0.6)
    assert hangul_byte_ratio(b"") == 0.0 and hangul_byte_ratio(b"plain ascii") == 0.0
    # an English page with a one-word Korean language link stays below a sane threshold
    english = html_page(ENGLISH_TEXT * 4 + '<a href="/ko">한국어</a>').encode()
    assert 0 < hangul_byte_ratio(english) < 0.01


def test_precheck_keeps_every_korean_sample_page(sample_html_files):
    from resiliparse.extract.html2text import extract_plain_text

    from hanforge.corpus.hangul_precheck import DEFAULT_MIN_RATIO

    korean = 0
    for f in sample_html_files:
        markup = f.read_text(encoding="utf-8")
        text = extract_plain_text(markup, main_content=True)
        letters = sum(c.isalpha() for c in text)
        hangul = sum("\uac00" <= c <= "\ud7a3" for c in text)
        if letters and hangul / letters >= 0.3:
            korean += 1
            assert looks_korean(f.read_bytes(), min_ratio=DEFAULT_MIN_RATIO), f.name
            assert looks_korean(markup.encode("cp949", errors="replace"), min_ratio=DEFAULT_MIN_RATIO), f.name
    assert korean >= 50
    # the same page in CP949 gives the same ratio (measured as if UTF-8)
    page = sample_html_files[5].read_text(encoding="utf-8")
    assert hangul_byte_ratio(page.encode("cp949", errors="ignore")) == pytest.approx(
        hangul_byte_ratio(page.encode()), rel=0.01
    )


def test_korean_precheck_uses_warc_language():
    page = html_page(KOREAN_TEXT).encode()
    assert korean_precheck(page, warc_lang="kor,eng")
    assert not korean_precheck(page, warc_lang="eng,jpn")
    assert korean_precheck(page, warc_lang="eng", use_warc_language=False)
    assert not korean_precheck(html_page(ENGLISH_TEXT).encode(), warc_lang="kor")


def test_hangul_precheck_step():
    assert step_types()["hangul_precheck"] is HangulPrecheckConfig
    step = parse_step({"type": "hangul_precheck", "min_ratio": 0.05}, where="steps[0]").build()
    docs = [
        _html_doc(html_page(KOREAN_TEXT).encode("cp949"), doc_id="ko"),
        _html_doc(html_page(ENGLISH_TEXT).encode(), doc_id="en"),
        _html_doc(html_page(KOREAN_TEXT).encode(), doc_id="lang", warc_lang="jpn"),
        Document(text="English text document", id="t", metadata={"_format": "text"}),
    ]
    out = list(step.run(iter(docs)))
    assert [d.metadata.get(DROP_REASON) for d in out] == [None, "not_korean_precheck", "not_korean_precheck", None]
    with pytest.raises(ConfigError, match="min_ratio"):
        parse_step({"type": "hangul_precheck", "min_ratio": -1}, where="steps[0]")
