"""A labelled Korean PII set, generated deterministically: positives per type and format, and
hard negatives (dates, timestamps, order/tracking numbers, ISBNs, product codes, law article
numbers, versions, prices, masked numbers, reserved addresses), each inside a Korean sentence.

Used by ``tests/test_pii_labelled.py`` (a slice) and ``bench/pii_recall.py`` (all of it).
Check digits (RRN, BRN, Luhn) are computed here from the published rules, independently of
``hanforge.corpus.pii_patterns``. Write the set as JSONL::

    python tests/pii_labelled.py --out /tmp/pii_labelled.jsonl

A record is ``{"text", "type", "span", "format"}``; ``type`` is None for a hard negative and
``span`` is then "". Positives count as found when every character of ``span`` lies inside a
reported match (of any type: the PII is gone); ``type_ok`` additionally asks for the right type.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 20261129
TYPES = ("RRN", "FRN", "PHONE", "EMAIL", "BRN", "CARD", "ACCOUNT", "IP")


@dataclass(frozen=True)
class Record:
    text: str
    type: str | None
    span: str
    format: str


# -- check digits (published rules) -------------------------------------------------------------
def rrn_check(first12: str, *, foreign: bool) -> int:
    s = sum(int(c) * w for c, w in zip(first12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
    return (13 - s % 11) % 10 if foreign else (11 - s % 11) % 10


def brn_check(first9: str) -> int:
    d = [int(c) for c in first9]
    s = sum(x * w for x, w in zip(d, (1, 3, 7, 1, 3, 7, 1, 3, 5), strict=True)) + (d[8] * 5) // 10
    return (10 - s % 10) % 10


def luhn_check(body: str) -> int:
    total = 0
    for i, c in enumerate(reversed(body)):
        x = int(c)
        if i % 2 == 0:  # doubled: the check digit will sit to the right
            x = x * 2 - 9 if x > 4 else x * 2
        total += x
    return (10 - total % 10) % 10


# -- positives -------------------------------------------------------------------------------
DASHES = ("\u2013", "\u2014", "\u2212", "\uff0d", "\u2010")  # en, em, minus, fullwidth, hyphen


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _birth(rng: random.Random, *, since_2000: bool) -> str:
    year = rng.randint(2000, 2024) if since_2000 else rng.randint(1940, 1999)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    return f"{year % 100:02d}{month:02d}{day:02d}"


def registration(rng: random.Random, *, foreign: bool, valid: bool) -> str:
    """13 digits: YYMMDD + G + 6; ``valid`` False gives a post-2020 number whose last digit is
    deliberately not the classic check digit."""
    since_2000 = rng.random() < 0.4
    birth = _birth(rng, since_2000=since_2000)
    gender = rng.choice("78" if since_2000 else "56") if foreign else rng.choice("34" if since_2000 else "12")
    first12 = birth + gender + _digits(rng, 5)
    check = rrn_check(first12, foreign=foreign)
    last = check if valid else (check + rng.randint(1, 9)) % 10
    return first12 + str(last)


RRN_CONTEXT = [
    "주민등록번호: {x}",
    "본인 주민번호는 {x} 입니다.",
    "신청서에 {x}를 적어 제출했다.",
    "성명 홍길동 ({x})",
    "등록번호 {x} 확인 바랍니다.",
    "주민 번호 {x}로 조회되었습니다.",
]
RRN_KEYWORD_CONTEXT = ["주민등록번호 {x}", "주민번호: {x} 입니다.", "주민등록번호는 {x}이며", "외국인등록번호 {x}"]
FRN_CONTEXT = ["외국인등록번호: {x}", "외국인 등록번호 {x} 로 확인", "체류자 번호 {x}를 기재했다."]


def rrn_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    for i in range(n):
        fmt = ("dash", "dash_new", "space", "dashes", "spaced_dash", "bare", "bare_keyword_new", "space_keyword_new")[
            i % 8
        ]
        valid = fmt not in ("dash_new", "bare_keyword_new", "space_keyword_new")
        d = registration(rng, foreign=False, valid=valid)
        sep = {
            "dash": "-",
            "dash_new": "-",
            "space": " ",
            "dashes": rng.choice(DASHES),
            "spaced_dash": " - ",
            "bare": "",
            "bare_keyword_new": "",
            "space_keyword_new": " ",
        }[fmt]
        x = d[:6] + sep + d[6:]
        context = RRN_KEYWORD_CONTEXT if "keyword" in fmt else RRN_CONTEXT
        out.append(Record(rng.choice(context).format(x=x), "RRN", x, f"rrn_{fmt}"))
    return out


def frn_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    for i in range(n):
        fmt = ("dash", "dash_new", "dashes", "bare", "bare_keyword_new")[i % 5]
        d = registration(rng, foreign=True, valid=fmt in ("dash", "dashes", "bare"))
        sep = {"dash": "-", "dash_new": "-", "dashes": rng.choice(DASHES), "bare": "", "bare_keyword_new": ""}[fmt]
        x = d[:6] + sep + d[6:]
        context = ["외국인등록번호 {x}", "외국인등록번호는 {x}입니다."] if "keyword" in fmt else FRN_CONTEXT
        out.append(Record(rng.choice(context).format(x=x), "FRN", x, f"frn_{fmt}"))
    return out


PHONE_CONTEXT = [
    "궁금한 점은 {x}로 연락 주세요.",
    "H.P {x}",
    "tel:{x}",
    "☎{x}",
    "담당자 휴대폰 {x}",
    "{x} (평일 9시~18시)",
    "전화: {x}",
    "예약 문의 {x} 로 부탁드립니다.",
    "김 과장님 번호가 {x} 맞나요?",
    "연락처 {x}, 담당 이민수",
]


def phone_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    formats = (
        "mobile_dash",
        "mobile_dot",
        "mobile_space",
        "mobile_bare",
        "mobile_dashes",
        "mobile_paren",
        "plus82",
        "plus82_paren0",
        "plus82_dash",
        "landline_seoul",
        "landline_area",
        "landline_paren",
        "internet_070",
        "service",
    )
    for i in range(n):
        fmt = formats[i % len(formats)]
        mid, last = _digits(rng, 4), _digits(rng, 4)
        mp = "01" + rng.choice("016789")
        area = rng.choice(
            ["031", "032", "033", "041", "042", "043", "051", "052", "053", "054", "055", "061", "062", "063", "064"]
        )
        x = {
            "mobile_dash": f"{mp}-{mid}-{last}",
            "mobile_dot": f"{mp}.{mid}.{last}",
            "mobile_space": f"{mp} {mid} {last}",
            "mobile_bare": f"{mp}{mid}{last}",
            "mobile_dashes": (lambda d: f"{mp}{d}{mid}{d}{last}")(rng.choice(DASHES)),
            "mobile_paren": f"({mp}){mid}-{last}",
            "plus82": f"+82 {mp[1:]}-{mid}-{last}",
            "plus82_paren0": f"+82 (0){mp[1:]}-{mid}-{last}",
            "plus82_dash": f"+82-{mp[1:]}-{mid}-{last}",
            "landline_seoul": f"02-{mid[: rng.choice((3, 4))]}-{last}",
            "landline_area": f"{area}-{mid[:3]}-{last}",
            "landline_paren": f"({rng.choice(['02', area])}) {mid[:3]}-{last}",
            "internet_070": f"070-{mid}-{last}",
            "service": f"1{rng.choice('568')}{_digits(rng, 2)}-{last}",
        }[fmt]
        context = ["고객센터 {x}", "대표번호 {x}로 문의하세요.", "상담 전화 {x}"] if fmt == "service" else PHONE_CONTEXT
        out.append(Record(rng.choice(context).format(x=x), "PHONE", x, f"phone_{fmt}"))
    return out


EMAIL_CONTEXT = [
    "문의는 {x} 로 보내 주세요.",
    "이메일: {x}",
    "기자 {x}",
    "<{x}>",
    "메일 주소는 {x}입니다.",
    "보낸 사람: 홍길동 {x}",
]
LOCALS = ["hong.gildong", "kim_minsu", "lee2024", "park+news", "choi.jy", "jung-ho", "yoon99", "admin", "hr.team"]
DOMAINS = [
    "naver.com",
    "daum.net",
    "gmail.com",
    "kakao.com",
    "hanmail.net",
    "korea.ac.kr",
    "snu.ac.kr",
    "company.co.kr",
    "mail.go.kr",
    "hanforge.io",
]
IDN = [
    "홍길동@회사.한국",
    "김민수@우리회사.한국",
    "hong@회사.한국",
    "담당자@한글도메인.com",
    "이영희@학교.한국",
    "help@xn--hq1bm8jm9l.xn--3e0b707e",
    "박지성@xn--3e0b707e.xn--3e0b707e",
]


def email_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    for i in range(n):
        if i % 4 == 3:
            x, fmt = rng.choice(IDN), "idn"
        else:
            x, fmt = f"{rng.choice(LOCALS)}{rng.randint(0, 99) if i % 2 else ''}@{rng.choice(DOMAINS)}", "ascii"
        out.append(Record(rng.choice(EMAIL_CONTEXT).format(x=x), "EMAIL", x, f"email_{fmt}"))
    return out


def brn_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    for i in range(n):
        first9 = (
            f"{rng.randint(101, 899)}{rng.choice(['81', '85', '86', '87', '88', '01', '05', '13'])}{_digits(rng, 4)}"
        )
        d = first9 + str(brn_check(first9))
        sep, fmt = ("-", "dash") if i % 3 else (rng.choice(DASHES), "dashes")
        x = sep.join((d[:3], d[3:5], d[5:]))
        context = ["사업자등록번호: {x}", "(주)한빛 사업자번호 {x}", "상호 한결상사 / 사업자 {x} / 대표 김철수"]
        out.append(Record(rng.choice(context).format(x=x), "BRN", x, f"brn_{fmt}"))
    return out


def _card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return body + str(luhn_check(body))


def card_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    formats = ("dash", "space", "mixed", "dashes", "bare_keyword", "amex_space", "amex_dash", "diners", "bc")
    for i in range(n):
        fmt = formats[i % len(formats)]
        if fmt.startswith("amex"):
            d = _card(rng, rng.choice(["34", "37"]), 15)
            sep = " " if fmt == "amex_space" else "-"
            x = sep.join((d[:4], d[4:10], d[10:]))
        elif fmt == "diners":
            d = _card(rng, "36", 14)
            x = "-".join((d[:4], d[4:10], d[10:]))
        else:
            d = _card(
                rng,
                rng.choice(
                    ["4", "51", "52", "55", "35", "62", "9410"] if fmt == "bc" else ["4", "51", "55", "35", "62"]
                ),
                16,
            )
            groups = [d[j : j + 4] for j in range(0, 16, 4)]
            if fmt == "space":
                x = " ".join(groups)
            elif fmt == "mixed":
                x = f"{groups[0]}-{groups[1]} {groups[2]}-{groups[3]}"
            elif fmt == "dashes":
                x = rng.choice(DASHES).join(groups)
            elif fmt == "bare_keyword":
                x = d
            else:
                x = "-".join(groups)
        if fmt == "bare_keyword":
            context = ["카드번호 {x}", "신용카드 {x} 로 결제", "결제 카드: {x}", "체크카드 번호 {x}입니다."]
        else:
            context = ["카드 {x} 로 결제되었습니다.", "번호 {x} (유효기간 12/27)", "{x} 승인 완료", "결제수단: {x}"]
        out.append(Record(rng.choice(context).format(x=x), "CARD", x, f"card_{fmt}"))
    return out


# Bank -> (how people name it, digit-group shapes as the bank prints them).
BANKS: dict[str, tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]] = {
    "kb": (("국민은행", "KB국민은행", "KB"), ((6, 2, 6), (3, 2, 4, 3))),
    "shinhan": (("신한은행", "신한"), ((3, 3, 6), (3, 2, 6))),
    "woori": (("우리은행",), ((4, 3, 6),)),
    "hana": (("하나은행",), ((3, 6, 5),)),
    "nh": (("농협", "NH농협은행", "농협은행"), ((3, 4, 4, 2), (6, 2, 6))),
    "ibk": (("기업은행", "IBK기업은행"), ((3, 6, 2, 3),)),
    "sc": (("SC제일은행",), ((3, 2, 6),)),
    "kakao": (("카카오뱅크",), ((4, 2, 7),)),
    "toss": (("토스뱅크",), ((4, 4, 4),)),
    "kbank": (("케이뱅크",), ((3, 3, 6),)),
    "post": (("우체국",), ((6, 2, 6),)),
    "mg": (("새마을금고",), ((4, 2, 6, 1),)),
    "suhyup": (("수협은행", "수협"), ((4, 4, 4),)),
    "citi": (("씨티은행",), ((3, 6, 3),)),
    "shinhyup": (("신협",), ((5, 2, 6),)),
    "busan": (("부산은행",), ((3, 4, 4, 2),)),
    "daegu": (("대구은행", "iM뱅크"), ((3, 2, 6, 1),)),
}
ACCOUNT_CONTEXT = [
    "{bank} {x}",
    "입금 계좌: {bank} {x} (예금주 홍길동)",
    "{bank} 계좌 {x}로 송금해 주세요.",
    "환불은 {bank} {x} 으로 부탁드립니다.",
    "후원 계좌 안내 - {bank} {x}",
]


def account_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    banks = sorted(BANKS)
    for i in range(n):
        key = banks[i % len(banks)]
        names, shapes = BANKS[key]
        shape = shapes[(i // len(banks)) % len(shapes)]
        groups = [_digits(rng, k) for k in shape]
        groups[0] = str(rng.randint(1, 9)) + groups[0][1:]
        if i % 10 == 7:
            x, fmt = "".join(groups), "bare"
            text = rng.choice(["계좌번호 {x} ({bank})", "입금 계좌 {x} {bank}", "{bank} 계좌번호: {x}"])
        elif i % 10 == 5:  # the bank named after the number
            x, fmt = "-".join(groups), "keyword_after"
            text = rng.choice(["{x} ({bank})", "보내실 곳: {x} {bank} 홍길동", "번호 {x} {bank}입니다."])
        else:
            sep = rng.choice(DASHES) if i % 10 == 3 else "-"
            x, fmt = sep.join(groups), key
            text = rng.choice(ACCOUNT_CONTEXT)
        out.append(Record(text.format(bank=rng.choice(names), x=x), "ACCOUNT", x, f"account_{fmt}"))
    return out


def ip_records(rng: random.Random, n: int) -> list[Record]:
    out = []
    context = [
        "접속 IP {x} 에서 로그인",
        "작성자 IP: {x}",
        '{x} - - [10/Oct/2024:13:55:36] "GET / HTTP/1.1"',
        "차단된 주소 {x}",
        "서버 {x} 로 접속했다.",
    ]
    while len(out) < n:
        if len(out) % 4 == 3:
            x = f"{rng.choice(['2404:6800', '2406:da14', '240e:3b7', '2600:1f18', '2a00:1450'])}:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
            fmt = "v6"
        else:
            x = ".".join(str(rng.randint(1, 254)) for _ in range(4))
            fmt = "v4"
        if not ipaddress.ip_address(x).is_global:
            continue
        out.append(Record(rng.choice(context).format(x=x), "IP", x, f"ip_{fmt}"))
    return out


# -- hard negatives --------------------------------------------------------------------------
def negative_records(rng: random.Random, n_per_kind: int) -> list[Record]:
    def date(sep: str) -> str:
        return f"{rng.randint(1990, 2030)}{sep}{rng.randint(1, 12):02d}{sep}{rng.randint(1, 28):02d}"

    def hms() -> str:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"

    def isbn13() -> str:
        body = rng.choice(["97889", "97911"]) + _digits(rng, 7)
        check = (10 - sum(int(c) * (3 if k % 2 else 1) for k, c in enumerate(body)) % 10) % 10
        return body + str(check)

    kinds: dict[str, Callable[[], str]] = {
        "date": lambda: rng.choice(["작성일 {}", "{} 기준", "기간: {} ~ {}", "{}에 개정되었다."]).format(
            date(rng.choice(["-", ".", "/", "", "\u2013", ". "])), date("-")
        ),
        "date_korean": lambda: (
            f"{rng.randint(1990, 2030)}년 {rng.randint(1, 12)}월 {rng.randint(1, 28)}일 {rng.randint(1, 12)}시"
        ),
        "timestamp": lambda: rng.choice(
            [
                f"{date('-')} {hms()}",
                f"{date('-')}T{hms()}+09:00",
                f"[{date('-')} {hms()},{_digits(rng, 3)}] INFO",
                f"로그 시각 {date('')}{hms().replace(':', '')}",
                f"epoch {rng.randint(1_500_000_000, 1_900_000_000)}",
                f"타임스탬프 {rng.randint(1_500_000_000_000, 1_900_000_000_000)}",
            ]
        ),
        "order_number": lambda: rng.choice(
            [
                f"주문번호 {date('')}-{_digits(rng, 7)}",
                f"주문번호: {date('')}{_digits(rng, 6)}",
                f"주문번호 ORD-{rng.randint(2015, 2030)}-{_digits(rng, 6)}",
                f"예약번호 {_digits(rng, 10)}",
                f"결제 승인번호 {_digits(rng, 8)}",
                f"접수번호 {rng.randint(2015, 2030)}-{_digits(rng, 7)}",
            ]
        ),
        "tracking_number": lambda: rng.choice(
            [
                f"운송장번호 {_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 4)}",
                f"송장번호 {_digits(rng, 12)}",
                f"우체국 택배 등기번호 {_digits(rng, 13)}",
                f"CJ대한통운 {_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 4)}",
            ]
        ),
        "isbn": lambda: rng.choice(
            [
                (lambda d: f"ISBN {d[:3]}-{d[3:5]}-{d[5:9]}-{d[9:12]}-{d[12]}")(isbn13()),
                f"ISBN {isbn13()}",
                f"ISBN 89-{_digits(rng, 4)}-{_digits(rng, 3)}-{rng.choice('0123456789X')}",
                f"ISSN {_digits(rng, 4)}-{_digits(rng, 4)}",
            ]
        ),
        "product_code": lambda: rng.choice(
            [
                f"모델명 SM-G{_digits(rng, 3)}N",
                f"품번 010-{_digits(rng, 4)}-A",
                f"부품번호 KT-010-{_digits(rng, 4)}-{_digits(rng, 4)}",
                f"SKU 010-{_digits(rng, 4)}-{_digits(rng, 4)}-{_digits(rng, 2)}",
                f"규격 KS C {_digits(rng, 4)}-{_digits(rng, 4)}",
                f"제품코드 AB-{_digits(rng, 6)}-{_digits(rng, 7)}",
                f"형번 02-{_digits(rng, 4)}-{_digits(rng, 3)}",
            ]
        ),
        "law_article": lambda: rng.choice(
            [
                f"제{rng.randint(1, 300)}조 제{rng.randint(1, 9)}항 제{rng.randint(1, 20)}호",
                f"법률 제{rng.randint(10000, 20000)}호",
                f"대통령령 제{rng.randint(20000, 35000)}호",
                f"시행령 제{rng.randint(1, 99)}조의{rng.randint(2, 5)}",
                f"{rng.randint(2000, 2024)}헌마{rng.randint(100, 1999)}",
                f"대법원 {rng.randint(2000, 2024)}다{rng.randint(10000, 299999)} 판결",
                f"고시 제{rng.randint(2000, 2024)}-{rng.randint(1, 300)}호",
            ]
        ),
        "version": lambda: rng.choice(
            [
                f"버전 {rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9999)}",
                f"LibreOffice {rng.randint(5, 24)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(1, 4)}",
                f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 50)}",
                f"Windows 10.0.{rng.randint(10000, 22999)}.{rng.randint(1, 4000)}",
                f"커널 {rng.randint(4, 6)}.{rng.randint(0, 19)}.0-{rng.randint(1, 30)}-amd64",
                f"build {rng.randint(10000, 99999)}.{rng.randint(1, 3000)}",
            ]
        ),
        "number": lambda: rng.choice(
            [
                f"가격 {rng.randint(1, 999)},{_digits(rng, 3)},{_digits(rng, 3)}원",
                f"인구 {rng.randint(1, 51)},{_digits(rng, 3)},{_digits(rng, 3)}명",
                f"우편번호 {_digits(rng, 5)}",
                f"pp. {rng.randint(1, 300)}-{rng.randint(301, 600)}",
                f"좌표 37.{_digits(rng, 4)}, 126.{_digits(rng, 4)}",
                f"원주율 3.{_digits(rng, 12)}",
                f"{rng.randint(1592, 1900)}-{rng.randint(1901, 1999)}년",
            ]
        ),
        "masked": lambda: rng.choice(
            [
                f"{_birth(rng, since_2000=False)}-{rng.choice('1234')}******",
                f"010-****-{_digits(rng, 4)}",
                "hong***@naver.com 이 아닌 h***@n***.com",
                f"{_digits(rng, 4)}-****-****-{_digits(rng, 4)}",
            ]
        ),
        "reserved": lambda: rng.choice(
            [
                "user@example.com",
                "test@example.org",
                "qa@build.test",
                f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "2001:db8::1",
                "127.0.0.1",
                "icon@2x.png",
            ]
        ),
        "invalid_check": lambda: rng.choice(
            [
                (lambda d: f"{d[:4]}-{d[4:8]}-{d[8:12]}-{d[12:]}")(
                    (lambda b: b + str((luhn_check(b) + 1) % 10))("4" + _digits(rng, 14))
                ),
                (lambda b: f"사업자 {b[:3]}-{b[3:5]}-{b[5:]}{(brn_check(b) + 1) % 10}")(
                    f"{rng.randint(101, 899)}81{_digits(rng, 4)}"
                ),
                f"{rng.randint(70, 99)}{rng.randint(13, 19)}{rng.randint(10, 28)}-1{_digits(rng, 6)}",
            ]
        ),
        "bank_context": lambda: rng.choice(
            [
                "국민은행 영업시간 09:00-16:00",
                f"은행 거래일시 {date('')}{hms().replace(':', '')}",
                f"입금 확인 {date('')}{hms()[:5].replace(':', '')}",
                f"통장 사본 발급일 {date('.')}",
                f"계좌 개설 {date('-')} 지점 {_digits(rng, 3)}",
                f"KB국민은행 {rng.randint(2015, 2025)}년 순이익 {rng.randint(1, 9)},{_digits(rng, 3)}억원",
                f"신한은행 창립 {rng.randint(1897, 1990)}년",
                f"은행 코드 0{_digits(rng, 2)}",
                f"농협 {date('-')} 공시",
                f"토스뱅크 금리 {rng.randint(1, 5)}.{_digits(rng, 2)}%",
                f"카드 혜택 최대 {rng.randint(1, 50)},000원",
            ]
        ),
    }
    out = []
    for kind in sorted(kinds):
        for _ in range(n_per_kind):
            out.append(Record(f"참고로 {kinds[kind]()} 입니다.", None, "", f"negative_{kind}"))
    return out


def build_labelled_set(*, seed: int = SEED, scale: int = 1) -> list[Record]:
    """All records; ``scale`` multiplies the count (scale 1: 1,900 records)."""
    rng = random.Random(seed)
    counts = {"RRN": 160, "FRN": 60, "PHONE": 280, "EMAIL": 120, "BRN": 60, "CARD": 180, "ACCOUNT": 240, "IP": 80}
    makers = {
        "RRN": rrn_records,
        "FRN": frn_records,
        "PHONE": phone_records,
        "EMAIL": email_records,
        "BRN": brn_records,
        "CARD": card_records,
        "ACCOUNT": account_records,
        "IP": ip_records,
    }
    records: list[Record] = []
    for pii_type in TYPES:
        records += makers[pii_type](rng, counts[pii_type] * scale)
    records += negative_records(rng, 55 * scale)
    return records


def covered(text: str, span: str, matches) -> tuple[bool, bool]:
    """(every character of ``span`` inside some match, ...and all those matches of its type)."""
    start = text.index(span)
    end = start + len(span)
    hit = [m for m in matches if m.start < end and m.end > start]
    positions = set()
    for m in hit:
        positions.update(range(max(m.start, start), min(m.end, end)))
    found = len(positions) == end - start
    return found, found and all(m.type == hit[0].type for m in hit)


def evaluate(records: list[Record], scrub: Callable[[str], tuple[str, list]]) -> dict:
    """Recall per type (found, right type) and per format, and the hard-negative touch rate."""
    per_type: dict[str, Counter] = defaultdict(Counter)
    per_format: dict[str, Counter] = defaultdict(Counter)
    touched: list[str] = []
    missed: list[str] = []
    for r in records:
        scrubbed, matches = scrub(r.text)
        if r.type is None:
            per_format[r.format]["n"] += 1
            if scrubbed != r.text:
                per_format[r.format]["touched"] += 1
                touched.append(r.text)
            continue
        found, type_ok = covered(r.text, r.span, matches)
        for c in (per_type[r.type], per_format[r.format]):
            c["n"] += 1
            c["found"] += found
            c["type_ok"] += type_ok
        if not found:
            missed.append(f"{r.format}: {r.text}")
    negatives = sum(c["n"] for f, c in per_format.items() if f.startswith("negative_"))
    num_touched = len(touched)
    return {
        "recall": {t: per_type[t]["found"] / per_type[t]["n"] for t in TYPES if per_type[t]["n"]},
        "type_recall": {t: per_type[t]["type_ok"] / per_type[t]["n"] for t in TYPES if per_type[t]["n"]},
        "positives": {t: per_type[t]["n"] for t in TYPES},
        "negatives": negatives,
        "negatives_touched": num_touched,
        "touch_rate": num_touched / negatives if negatives else 0.0,
        "per_format": {f: dict(c) for f, c in sorted(per_format.items())},
        "missed": missed,
        "touched": touched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    records = build_labelled_set(seed=args.seed)
    with args.out.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    print(f"{len(records)} records -> {args.out}")


if __name__ == "__main__":
    main()
