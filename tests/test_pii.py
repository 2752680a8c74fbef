"""Tests of Korean PII scrubbing: positive and hard-negative tables, offsets, idempotence, step.

Check digits in the tables were computed by hand from the published rules (RRN weights
2..9,2..5; BRN weights 1,3,7,1,3,7,1,3,5 + floor(d9*5/10); Luhn), not by the code under test.
"""

from __future__ import annotations

import time

import pytest
from datatrove.data import Document
from hypothesis import given, settings
from hypothesis import strategies as st

import hanforge.config as hconfig
from hanforge.corpus.pii import PII_TYPES, PiiConfig, PiiMatch, PiiScrubber, PiiStep, scrub_pii
from hanforge.errors import ConfigError

# (text, type, the exact PII substring)
POSITIVES = [
    # resident registration numbers
    ("주민등록번호: 900101-1234567", "RRN", "900101-1234567"),
    ("851231-2345678 입니다", "RRN", "851231-2345678"),
    ("생일 000229-3123456", "RRN", "000229-3123456"),  # 2000 is a leap year
    ("040615-4567890", "RRN", "040615-4567890"),
    ("주민번호 9001011234568", "RRN", "9001011234568"),  # bare digits, valid check digit
    ("번호는 900101 - 1234567 입니다", "RRN", "900101 - 1234567"),
    ("991231-9123456", "RRN", "991231-9123456"),  # G=9: born in the 1800s
    ("(880101-1234567)", "RRN", "880101-1234567"),
    ("주민번호는900101-2234567이고", "RRN", "900101-2234567"),
    # foreigner registration numbers
    ("외국인등록번호 900101-5234567", "FRN", "900101-5234567"),
    ("020315-7123456", "FRN", "020315-7123456"),
    ("9001015234561", "FRN", "9001015234561"),  # bare digits, FRN check digit
    ("851111-6123456 (외국인)", "FRN", "851111-6123456"),
    # phone numbers
    ("휴대폰 010-1234-5678", "PHONE", "010-1234-5678"),
    ("010.1234.5678로 연락", "PHONE", "010.1234.5678"),
    ("010 1234 5678", "PHONE", "010 1234 5678"),
    ("01012345678", "PHONE", "01012345678"),
    ("011-123-4567", "PHONE", "011-123-4567"),
    ("서울 02-123-4567", "PHONE", "02-123-4567"),
    ("02-1234-5678", "PHONE", "02-1234-5678"),
    ("경기 031-123-4567", "PHONE", "031-123-4567"),
    ("051.123.4567", "PHONE", "051.123.4567"),
    ("(02) 123-4567", "PHONE", "(02) 123-4567"),
    ("대표 (031)1234-5678", "PHONE", "(031)1234-5678"),
    ("070-1234-5678", "PHONE", "070-1234-5678"),
    ("+82 10-1234-5678", "PHONE", "+82 10-1234-5678"),
    ("+82-2-123-4567", "PHONE", "+82-2-123-4567"),
    ("고객센터 1588-1234", "PHONE", "1588-1234"),
    ("문의: 1644-0000", "PHONE", "1644-0000"),
    ("Tel. 1899-5678", "PHONE", "1899-5678"),
    ("Tel.02-123-4567", "PHONE", "02-123-4567"),
    ("전화번호는010-1234-5678입니다", "PHONE", "010-1234-5678"),
    # e-mail
    ("hong.gildong@naver.com", "EMAIL", "hong.gildong@naver.com"),
    ("문의 admin+ko@example.co.kr 로", "EMAIL", "admin+ko@example.co.kr"),
    ("<kim_01@korea.ac.kr>", "EMAIL", "kim_01@korea.ac.kr"),
    ("debian-l10n-korean@lists.debian.org 목록", "EMAIL", "debian-l10n-korean@lists.debian.org"),
    ("홍길동 기자 hong@hankyung.com", "EMAIL", "hong@hankyung.com"),
    # business registration numbers
    ("사업자등록번호 220-81-62517", "BRN", "220-81-62517"),
    ("120-81-12342", "BRN", "120-81-12342"),
    ("사업자: 104-86-12345", "BRN", "104-86-12345"),
    # card numbers
    ("카드 4111-1111-1111-1111", "CARD", "4111-1111-1111-1111"),
    ("5105 1051 0510 5100", "CARD", "5105 1051 0510 5100"),
    ("3782-822463-10005", "CARD", "3782-822463-10005"),
    ("3056-930902-5904", "CARD", "3056-930902-5904"),
    ("6212-3456-7890-1234-569", "CARD", "6212-3456-7890-1234-569"),
    ("9410-1234-5678-9010", "CARD", "9410-1234-5678-9010"),
    # bank accounts (keyword required)
    ("국민은행 123456-01-123456", "ACCOUNT", "123456-01-123456"),
    ("신한 110-123-456789", "ACCOUNT", "110-123-456789"),
    ("입금 계좌: 1002-123-456789 (우리)", "ACCOUNT", "1002-123-456789"),
    ("농협 351-1234-5678-12", "ACCOUNT", "351-1234-5678-12"),
    ("하나은행 123-456789-12345", "ACCOUNT", "123-456789-12345"),
    ("예금주 홍길동 계좌번호 123-12-123456", "ACCOUNT", "123-12-123456"),
    # public IP addresses
    ("DNS 8.8.8.8", "IP", "8.8.8.8"),
    ("접속 IP 211.234.10.5 에서", "IP", "211.234.10.5"),
    ("1.1.1.1에서 접속", "IP", "1.1.1.1"),
    ("2001:4860:4860::8888", "IP", "2001:4860:4860::8888"),
    ("주소 2404:6800:4004:80a::200e 로", "IP", "2404:6800:4004:80a::200e"),
    ("211.234.10.5 - - [10/Oct/2024:13:55:36] GET /", "IP", "211.234.10.5"),  # access-log line
    ("작성자 IP: 121.134.5.77.", "IP", "121.134.5.77"),
]

NEGATIVES = [
    "2023-01-15",
    "2023.01.15",
    "2023/01/15",
    "날짜 20230115",
    "12:30:45",
    "2024년 3월 15일 오후 2:30",
    "가격 1,234,567원",
    "제12조 제3항",
    "LibreOffice 7.4.7",
    "버전 7.4.7.2",
    "version 1.2.3.4",
    "ISBN 978-89-6626-123-4",
    "ISBN 9788966261234",
    "우편번호 06236",
    "우편번호 135-080",
    "pp. 123-145",
    "1592-1598년 임진왜란",
    "1600-1700년대",
    "전화 보급은 1880-1900년 사이",  # a phone keyword, but a year range
    "(1588-1234)",
    "모델명 SM-G991N",
    "제품코드 AB-900101-1234567",
    "9001011234567",  # bare digits, wrong check digit
    "900229-1234567",  # 1990 is not a leap year
    "901301-1234567",  # month 13
    "900132-1234567",  # day 32
    "12345679001011234568",  # a valid bare RRN inside a 20-digit number
    "바코드 8801011000032",  # EAN-13 with the Korean 880 prefix
    "900101-1******",  # masked
    "4111-1111-1111-1112",  # Luhn fails
    "5105 1051 0510 5101",
    "1234567890123452",  # bare digits are not cards even when Luhn passes
    "220-81-62518",  # BRN check digit wrong
    "123456-01-123456",  # account shape without a bank keyword
    "110-123-456789",
    "우리 회사 매출 123-45-678901",  # 우리 = "we", not 우리은행
    "국민 1인당 123-45-678901",
    "192.168.0.1",
    "10.0.0.1",
    "127.0.0.1",
    "192.0.2.10",  # documentation range
    "256.1.1.1",
    "1.2.3.4.5",
    "fe80::1",
    "2001:db8::1",  # documentation range
    "std::vector<int>",
    "02-12-2023",
    "010-123-45",
    "010-1234-56789",
    "전화 1234-5678",
    "icon@2x.png",
    'SendMail("someone@example.com")',
    "qa@build.test",
    "LibreOffice 7.4.1.2 (The Document Foundation)",
    "목차\n8.1.6.1. 다른 패키지 관리 도구",
    "user@localhost",
    "@username 트위터",
    "원주율 3.14159",
    "A4 용지 210x297mm",
    "ㅋㅋㅋ 010 고마워",
]


def test_tables_are_large_enough():
    assert len(POSITIVES) >= 40 and len(NEGATIVES) >= 40
    assert {t for _, t, _ in POSITIVES} == set(PII_TYPES)


@pytest.mark.parametrize(("text", "pii_type", "span"), POSITIVES)
def test_positive(text, pii_type, span):
    scrubbed, matches = scrub_pii(text)
    assert matches == [PiiMatch(pii_type, text.index(span), text.index(span) + len(span))]
    assert scrubbed == text.replace(span, f"<{pii_type}>")
    assert scrub_pii(scrubbed) == (scrubbed, [])  # idempotent


@pytest.mark.parametrize("text", NEGATIVES)
def test_hard_negative(text):
    assert scrub_pii(text) == (text, [])
    assert scrub_pii(f"참고로 {text} 입니다.") == (f"참고로 {text} 입니다.", [])


def test_offsets_index_the_original_nfc_text(sample_html_files):
    from hanforge.corpus.extract import ExtractStep
    from hanforge.corpus.normalize import normalize_korean

    doc = Document(text=sample_html_files[3].read_text(encoding="utf-8"), id="p", metadata={"_format": "html"})
    assert ExtractStep().process(doc) is None
    page = normalize_korean(doc.text)
    base, _ = scrub_pii(page)
    assert len(base) > 500
    pieces, expected = [], []
    cursor = 0
    for i, (_, pii_type, span) in enumerate(POSITIVES):
        chunk = base[cursor : cursor + 37 + i]
        cursor += 37 + i
        pieces.append(chunk + " 연락처 ")
        start = sum(map(len, pieces))
        pieces.append(span + " 끝. ")
        expected.append((pii_type, start, span))
    text = "".join(pieces)
    scrubbed, matches = scrub_pii(text)
    found = [(m.type, m.start, text[m.start : m.end]) for m in matches if m.type != "ACCOUNT"]
    assert found == [e for e in expected if e[0] != "ACCOUNT"]
    for m in matches:
        assert text[m.start : m.end].strip() == text[m.start : m.end]
    assert scrub_pii(scrubbed) == (scrubbed, [])
    # rebuild the scrubbed text from the matches alone
    rebuilt, last = [], 0
    for m in matches:
        rebuilt += [text[last : m.start], f"<{m.type}>"]
        last = m.end
    assert "".join(rebuilt) + text[last:] == scrubbed


PII_ALPHABET = st.sampled_from(
    ["0", "1", "2", "5", "8", "9", "-", ".", " ", ":", "@", "a", "가", "\n", "계좌 ", "전화 ", "버전 ",
     "010-1234-5678", "900101-1234567", "8.8.8.8", "a@b.co", "1588-1234", "110-123-456789", "2001:4860::1"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PII_ALPHABET, max_size=25).map("".join))
def test_idempotent_and_offsets_property(text):
    scrubbed, matches = scrub_pii(text)
    assert scrub_pii(scrubbed) == (scrubbed, [])
    last = 0
    for m in matches:
        assert last <= m.start < m.end <= len(text)
        last = m.end


def test_type_selection_and_placeholders():
    text = "전화 010-1234-5678, 메일 kim@korea.kr"
    scrubber = PiiScrubber(types=("EMAIL",), placeholders={"EMAIL": "[이메일]"})
    scrubbed, matches = scrubber.scrub(text)
    assert scrubbed == "전화 010-1234-5678, 메일 [이메일]"
    assert [m.type for m in matches] == ["EMAIL"]
    # a disabled type still owns its digits: no phone digits are re-read as another type
    assert PiiScrubber(types=("ACCOUNT",)).scrub("국민은행 010-1234-5678")[1] == []


def test_config_validation_and_registration():
    assert hconfig._STEP_TYPES["pii"] is PiiConfig
    cfg = PiiConfig.from_table({"types": ["RRN", "PHONE"], "placeholders": {"PHONE": "<전화>"}})
    assert cfg.types == ["RRN", "PHONE"]
    with pytest.raises(ConfigError, match=r"types\[1\].*SSN"):
        PiiConfig.from_table({"types": ["RRN", "SSN"]})
    with pytest.raises(ConfigError, match="placeholders.NAME"):
        PiiConfig.from_table({"placeholders": {"NAME": "<N>"}})
    assert isinstance(PiiConfig().build(), PiiStep)


def test_step_sets_columns_and_stats():
    step = PiiConfig().build()
    docs = [
        Document(text="연락처 010-1234-5678 / 02-123-4567, 메일 a.b@korea.kr", id="a", metadata={}),
        Document(text="개인정보 없는 문서 2023-01-15", id="b", metadata={}),
    ]
    out = list(step.run(iter(docs)))
    assert out[0].text == "연락처 <PHONE> / <PHONE>, 메일 <EMAIL>"
    assert out[0].metadata["num_pii"] == 3 and out[0].metadata["pii_types"] == ["EMAIL", "PHONE"]
    assert out[1].metadata["num_pii"] == 0 and out[1].metadata["pii_types"] == []
    assert step.stats["pii/PHONE"].total == 2 and step.stats["pii/EMAIL"].total == 1
    assert step.stats["kept"].total == 2


def test_throughput_is_logged(sample_html_files, capsys):
    """Not a timing assertion: prints chars/s so the test log records the figure."""
    text = "".join(f.read_text(encoding="utf-8") for f in sample_html_files[:20])
    start = time.perf_counter()
    scrub_pii(text)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nscrub_pii: {len(text) / seconds / 1e6:.1f} M chars/s on {len(text):,} chars of markup")


def test_replacement_that_exposes_a_new_match_is_scrubbed_too():
    # found by the property test: replacing the e-mail leaves "2001:4860::" as a valid IPv6
    text = "2001:4860::10010-1234-5678a@b.co"
    scrubbed, matches = scrub_pii(text)
    assert scrubbed == "<IP><EMAIL>"
    assert [(m.type, m.start, m.end) for m in matches] == [("IP", 0, 11), ("EMAIL", 11, 32)]
    assert scrub_pii(scrubbed) == (scrubbed, [])
