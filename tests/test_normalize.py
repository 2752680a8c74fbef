"""Tests of Korean normalization (``normalize`` step and ``normalize_korean``)."""

from __future__ import annotations

import time
import unicodedata

import pytest
from datatrove.data import Document
from hypothesis import given, settings
from hypothesis import strategies as st

import hanforge.config as hconfig
from hanforge.corpus.normalize import NormalizeConfig, NormalizeStep, normalize_korean
from hanforge.corpus.steps import DROP_REASON

CASES = [
    # (input, expected with all switches on)
    ("한국어 문장", "한국어 문장"),
    ("ㅋㅋㅋ ㅎㅎ ㅠㅠ ㄱㄴㄷ", "ㅋㅋㅋ ㅎㅎ ㅠㅠ ㄱㄴㄷ"),  # compatibility jamo untouched
    ("가\u200b나\u200c다\u200d라\u2060마\ufeff바\u00ad사", "가나다라마바사"),
    ("탭\t구분\t\t텍스트", "탭 구분 텍스트"),
    ("줄1\r\n줄2\r줄3\u2028줄4", "줄1\n줄2\n줄3\n줄4"),
    ("벨\x07문자\x00와\x1b제어\x85문자", "벨문자와제어문자"),
    ("A&amp;B &lt;태그&gt; &#54620;&#xAE00; &quot;인용&quot;", 'A&B <태그> 한글 "인용"'),
    ("링크 ?a=1&copy=2 와 AT&T", "링크 ?a=1&copy=2 와 AT&T"),  # no ';' -> untouched
    ("알 수 없는 &foo; 참조", "알 수 없는 &foo; 참조"),
    ("가격&nbsp;1,000원", "가격 1,000원"),
    ("전각\u3000공백\u00a0과\u2003공백", "전각 공백 과 공백"),
    ("여러    칸   공백", "여러 칸 공백"),
    ("  줄 앞뒤 공백   \n  다음 줄  ", "줄 앞뒤 공백\n다음 줄"),
    ("문단1\n\n\n\n\n문단2\n\n문단3", "문단1\n\n문단2\n\n문단3"),
    ("\n\n  처음과 끝  \n\n\n", "처음과 끝"),
    ("ＡＢＣ１２３！？（가）", "ABC123!?(가)"),
    ("１０～２０명", "10~20명"),
    ("서울ㆍ부산ㆍ대구", "서울·부산·대구"),
    ("이미 ·가운뎃점", "이미 ·가운뎃점"),
    ("①②③ ㈜ ℃ ㎏", "①②③ ㈜ ℃ ㎏"),  # NFKC would rewrite these; NFC does not
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalize_cases(text, expected):
    assert normalize_korean(text) == expected


def test_nfd_korean_is_recomposed(sample_html_files):
    from hanforge.corpus.extract import ExtractStep

    doc = Document(text=sample_html_files[0].read_text(encoding="utf-8"), id="p", metadata={"_format": "html"})
    assert ExtractStep().process(doc) is None
    original = normalize_korean(doc.text)
    assert sum("\uac00" <= c <= "\ud7a3" for c in original) > 50
    nfd = unicodedata.normalize("NFD", original)
    assert nfd != original and not any("\uac00" <= c <= "\ud7a3" for c in nfd)
    assert normalize_korean(nfd) == original
    # a zero-width space between conjoining jamo must not block recomposition
    assert normalize_korean("\u1112\u200b\u1161\u11ab") == "한"
    # with nfc off, NFD text stays decomposed
    assert normalize_korean(nfd, options=NormalizeConfig(nfc=False)) == nfd


@pytest.mark.parametrize(
    ("switch", "text", "on", "off"),
    [
        ("unescape_entities", "A&amp;B", "A&B", "A&amp;B"),
        ("strip_control", "가\x07나\t다", "가나 다", "가\x07나\t다"),
        ("strip_zero_width", "가\u200b나", "가나", "가\u200b나"),
        ("collapse_whitespace", " 가   나\u3000다 \n\n\n\n라", "가 나 다\n\n라", " 가   나\u3000다 \n\n\n\n라"),
        ("fullwidth_ascii", "ＡＢ１", "AB1", "ＡＢ１"),
        ("wave_dash", "１～２", "1~2", "1～2"),
        ("middle_dot", "가ㆍ나", "가·나", "가ㆍ나"),
    ],
)
def test_each_switch(switch, text, on, off):
    assert normalize_korean(text) == on
    assert normalize_korean(text, options=NormalizeConfig(**{switch: False})) == off


def test_all_off_is_identity():
    off = NormalizeConfig(**{name: False for name in NormalizeConfig().to_dict() if name != "type"})
    for text, _ in CASES:
        assert normalize_korean(text, options=off) == text


def test_double_escaped_entities_lose_one_level_per_call():
    assert normalize_korean("&amp;lt;") == "&lt;"
    assert normalize_korean("&lt;") == "<"


KOREAN_ALPHABET = st.sampled_from(
    list("한국어가나다ㅋㅎㅠ abcABC123 .,~·")
    + ["\n", "\t", "\r", "\u3000", "\u00a0", "\u200b", "\ufeff", "ＡＢ", "～", "ㆍ", "\u1100\u1161", "\x07", "  "]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(KOREAN_ALPHABET, max_size=40).map("".join))
def test_idempotent_and_invariants(text):
    once = normalize_korean(text)
    assert normalize_korean(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert "\t" not in once and "\r" not in once and "\u200b" not in once and "  " not in once
    assert "\n\n\n" not in once and once == once.strip(" \n")
    assert once.count("ㅋ") == text.count("ㅋ")


def test_step_registered_normalizes_and_drops_empty():
    assert hconfig._STEP_TYPES["normalize"] is NormalizeConfig
    with pytest.raises(hconfig.ConfigError, match="nfd"):
        NormalizeConfig.from_table({"nfd": True})
    step = NormalizeConfig.from_table({"middle_dot": False}).build()
    docs = [
        Document(text="서울ㆍ부산\u3000\u3000시", id="a", metadata={}),
        Document(text="\u200b \u00a0\n\t\ufeff", id="b", metadata={}),
        Document(text="이미 버려진 문서", id="c", metadata={DROP_REASON: "too_short"}),
    ]
    out = list(step.run(iter(docs)))
    assert out[0].text == "서울ㆍ부산 시" and out[0].metadata.get(DROP_REASON) is None
    assert out[1].metadata[DROP_REASON] == "normalize_empty"
    assert out[2].text == "이미 버려진 문서"  # dropped documents pass through untouched
    assert step.stats["docs_in"].total == 2
    assert isinstance(NormalizeConfig().build(), NormalizeStep)


def test_throughput_is_logged(sample_html_files, capsys):
    """Not a timing assertion: prints chars/s so the test log records the figure."""
    text = "".join(f.read_text(encoding="utf-8") for f in sample_html_files[:20])
    start = time.perf_counter()
    out = normalize_korean(text)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nnormalize_korean: {len(text) / seconds / 1e6:.1f} M chars/s on {len(text):,} chars of markup")
    assert out == normalize_korean(out)
