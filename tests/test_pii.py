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
    ("번호 901231 1234563 입니다", "RRN", "901231 1234563"),  # space, valid check digit
    ("901231\u20131234563", "RRN", "901231\u20131234563"),  # en dash
    ("생년 901231\u20141234567 기재", "RRN", "901231\u20141234567"),  # em dash, no check digit needed
    ("901231\uff0d1234567", "RRN", "901231\uff0d1234567"),  # fullwidth hyphen-minus
    ("주민등록번호 2101013567891", "RRN", "2101013567891"),  # since Oct 2020: no check digit
    ("주민번호: 210101 3567891", "RRN", "210101 3567891"),
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
    ("(010)1234-5678", "PHONE", "(010)1234-5678"),
    ("해외 +82 (0)10-1234-5678", "PHONE", "+82 (0)10-1234-5678"),
    ("+82-10-1234-5678", "PHONE", "+82-10-1234-5678"),
    ("010\u20131234\u20135678", "PHONE", "010\u20131234\u20135678"),
    ("010 - 1234 - 5678", "PHONE", "010 - 1234 - 5678"),
    # e-mail
    ("hong.gildong@naver.com", "EMAIL", "hong.gildong@naver.com"),
    ("문의 admin+ko@example.co.kr 로", "EMAIL", "admin+ko@example.co.kr"),
    ("<kim_01@korea.ac.kr>", "EMAIL", "kim_01@korea.ac.kr"),
    ("debian-l10n-korean@lists.debian.org 목록", "EMAIL", "debian-l10n-korean@lists.debian.org"),
    ("홍길동 기자 hong@hankyung.com", "EMAIL", "hong@hankyung.com"),
    ("메일 홍길동@회사.한국으로 보내 주세요", "EMAIL", "홍길동@회사.한국"),  # IDN, particle after the TLD
    ("hong@회사.한국", "EMAIL", "hong@회사.한국"),
    ("help@xn--hq1bm8jm9l.xn--3e0b707e", "EMAIL", "help@xn--hq1bm8jm9l.xn--3e0b707e"),
    ("메일은hong@naver.com으로", "EMAIL", "hong@naver.com"),
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
    ("4111-1111 1111-1111", "CARD", "4111-1111 1111-1111"),  # mixed separators
    ("카드번호 4111111111111111", "CARD", "4111111111111111"),  # bare, after a card keyword
    ("신용카드 378282246310005 결제", "CARD", "378282246310005"),
    ("3782 822463 10005", "CARD", "3782 822463 10005"),  # Amex 4-6-5 with spaces
    ("4111\u20131111\u20131111\u20131111", "CARD", "4111\u20131111\u20131111\u20131111"),
    # bank accounts (keyword required)
    ("국민은행 123456-01-123456", "ACCOUNT", "123456-01-123456"),
    ("신한 110-123-456789", "ACCOUNT", "110-123-456789"),
    ("입금 계좌: 1002-123-456789 (우리)", "ACCOUNT", "1002-123-456789"),
    ("농협 351-1234-5678-12", "ACCOUNT", "351-1234-5678-12"),
    ("하나은행 123-456789-12345", "ACCOUNT", "123-456789-12345"),
    ("예금주 홍길동 계좌번호 123-12-123456", "ACCOUNT", "123-12-123456"),
    ("토스뱅크 1000-1234-5678", "ACCOUNT", "1000-1234-5678"),  # 4-4-4
    ("IBK기업은행 123-456789-01-234", "ACCOUNT", "123-456789-01-234"),  # 3-6-2-3
    ("카카오뱅크 3333-01-1234567", "ACCOUNT", "3333-01-1234567"),
    ("새마을금고 9002-12-123456-1", "ACCOUNT", "9002-12-123456-1"),
    ("계좌번호 110123456789", "ACCOUNT", "110123456789"),  # bare, after an account word
    ("보내실 곳 110-123-456789 (신한)", "ACCOUNT", "110-123-456789"),  # bank named after it
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
    "2023\u201301\u201315",  # dates with en dashes
    "2026-11-29 13:46:04",
    "2026-11-29T13:46:04+09:00",
    "로그 20261129134604",
    "epoch 1732886400",
    "주문번호 20231129-1234567",
    "주문번호: 20231129123456",
    "운송장번호 6123-4567-8901",  # 4-4-4 like a Toss account, but no bank word
    "우체국 택배 등기번호 6012345678901",
    "ISBN 978-89-6626-123-4",
    "ISBN 89-7914-123-4",
    "부품번호 KT-010-1234-5678",
    "SKU 010-1234-5678-01",
    "법률 제17799호",
    "대법원 2019다12345 판결",
    "고시 제2020-123호",
    "버전 10.0.19045.3693",
    "커널 6.1.0-13-amd64",
    "은행 거래일시 20231129134604",
    "국민은행 영업시간 09:00-16:00",
    "농협 2023-01-15 공시",
    "결제 승인번호 12345678",
    "카드 번호 4111-1111-1111-1112",  # Luhn fails even with the keyword
    "주민번호 901301-1234567",  # month 13 even with the keyword
    "301234 5678901",  # 6+7 digits with a space, no keyword, no valid date
    "우리 회사 123456789012",  # bare run, no account word
    "010-****-5678",
    '<h4 class="title"><a id="x"></a>12.2.1.1. 메일링 리스트</h4>',  # section number in markup
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
    [
        "0",
        "1",
        "2",
        "5",
        "8",
        "9",
        "-",
        ".",
        " ",
        ":",
        "@",
        "a",
        "가",
        "\n",
        "계좌 ",
        "전화 ",
        "버전 ",
        "010-1234-5678",
        "900101-1234567",
        "8.8.8.8",
        "a@b.co",
        "1588-1234",
        "110-123-456789",
        "2001:4860::1",
        "\u2013",
        "주민번호 ",
        "카드번호 ",
        "홍길동@회사.한국",
        "(010)",
        "4111111111111111",
        " (신한)",
        "+82 (0)",
    ]
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


URLS = [
    ("https://site.kr/user/901231-1234563", "https://site.kr/user/%3CRRN%3E", ["RRN"]),
    (
        "https://x.kr/p?email=hong%40naver.com&tel=010-1234-5678&q=%EA%B0%80",
        "https://x.kr/p?email=%3CEMAIL%3E&tel=%3CPHONE%3E&q=%EA%B0%80",
        ["EMAIL", "PHONE"],
    ),
    ("https://x.kr/s?tel=010+1234+5678#top", "https://x.kr/s?tel=%3CPHONE%3E#top", ["PHONE"]),
    ("https://bank.kr/t?account=110-123-456789", "https://bank.kr/t?account=%3CACCOUNT%3E", ["ACCOUNT"]),
    ("mailto:hong@naver.com", "mailto:%3CEMAIL%3E", ["EMAIL"]),
    ("https://kim.minsu%40naver.com@host.kr/a", "https://%3CEMAIL%3E@host.kr/a", ["EMAIL"]),
]


@pytest.mark.parametrize(("url", "expected", "types"), URLS)
def test_url_is_scrubbed_and_stays_a_url(url, expected, types):
    from urllib.parse import urlsplit

    scrubbed, matches = PiiScrubber().scrub_url(url)
    assert scrubbed == expected and [m.type for m in matches] == types
    assert urlsplit(scrubbed).netloc == urlsplit(url).netloc.rsplit("@", 1)[-1] or "@" in scrubbed
    assert PiiScrubber().scrub_url(scrubbed) == (scrubbed, [])


def test_url_with_a_lone_surrogate_is_scrubbed_without_error():
    scrubbed, matches = PiiScrubber().scrub_url("https://a.kr/u/\udfff010-1234-5678")
    assert scrubbed == "https://a.kr/u/%3F%3CPHONE%3E" and [m.type for m in matches] == ["PHONE"]


@pytest.mark.parametrize(
    "url",
    ["https://www.example.kr/ko/help/2023-01-15/page.html?v=7.4.7.2", "http://[bad", "https://211.234.10.5/index.html"],
)
def test_urls_without_pii_are_unchanged(url):
    assert PiiScrubber().scrub_url(url) == (url, [])


def test_step_scrubs_dropped_documents_and_urls_too():
    from hanforge.corpus.steps import mark_dropped

    step = PiiConfig().build()
    dropped = Document(text="<html>tel:010-1234-5678</html>", id="d", metadata={"url": "https://a.kr/u/901231-1234563"})
    mark_dropped(dropped, reason="extract_empty", step="extract")
    live = Document(
        text="메일 a.b@korea.kr",
        id="k",
        metadata={"url": "https://a.kr/?e=kim%40korea.kr", "path": "users/010-1234-5678.html"},
    )
    out = list(step.run(iter([dropped, live])))
    assert out[0].text == "<html>tel:<PHONE></html>" and out[0].metadata["url"] == "https://a.kr/u/%3CRRN%3E"
    assert out[0].metadata["drop_reason"] == "extract_empty" and out[0].metadata["pii_types"] == ["PHONE", "RRN"]
    assert out[1].text == "메일 <EMAIL>" and out[1].metadata["url"] == "https://a.kr/?e=%3CEMAIL%3E"
    assert out[1].metadata["path"] == "users/<PHONE>.html" and out[1].metadata["num_pii"] == 3
    assert step.stats["pii/PHONE"].total == 2 and step.stats["pii/EMAIL"].total == 2
    assert step.stats["pii/urls_scrubbed"].total == 2 and step.stats["kept"].total == 1


def test_passes_and_matches_grow_linearly():
    """Not a timing test: the work that used to grow with the square of the matches (a copy of
    every earlier part per match, a walk over every earlier match per rescan match) is gone, so
    the number of scan passes stays at two however many matches a text has."""
    scrubber = PiiScrubber()
    calls = []
    once = scrubber._scrub_once
    scrubber._scrub_once = lambda text: calls.append(len(text)) or once(text)
    text = "".join(f"연락처 010-{1000 + i}-5678, 메일 u{i}@naver.com. " for i in range(3000))
    scrubbed, matches = scrubber.scrub(text)
    assert len(matches) == 6000 and len(calls) == 2
