"""Korean PII patterns and their validators (used by :mod:`hanforge.corpus.pii`).

Each numeric PII kind is one named group of a single combined regex (``COMBINED``), scanned
once per text; e-mails have their own scan (:func:`email_spans`), run only on texts containing
``@``. Each kind has a validator that decides whether a candidate really is that kind. Patterns use ``[0-9]`` (never ``\\d``, which also matches other scripts'
digits) and share one boundary rule: a candidate may not touch an ASCII letter, digit or ``_``,
nor continue as a number (``.3``, ``-7``) or a hyphenated code (``AB-``, ``-X``) on either side.
So a 13-digit RRN inside a 20-digit number, a phone number glued to a product code, or the
first four parts of ``1.2.3.4.5`` are never matches.

"Dash" below is any of ``DASH``: hyphen-minus, hyphen, non-breaking hyphen, figure dash, en
dash, em dash, horizontal bar, minus sign, small and fullwidth hyphen-minus (what people and
word processors put between digit groups; excluded rows reach the scrubber unnormalized).

Rules (precision first; what they deliberately leave alone is listed under "not PII"):

* ``RRN`` / ``FRN`` (resident / foreigner registration number, YYMMDD-GHIJKLX): the date part
  must be a real calendar date in the century given by G (9/0: 1800s, 1/2/5/6: 1900s,
  3/4/7/8: 2000s); G in 1-4, 9, 0 is an RRN, G in 5-8 an FRN. With a dash between the parts
  (spaces around it allowed) the classic check digit is *not* required: numbers issued since
  October 2020 have random trailing digits. Written as 13 bare digits or with one space
  (``901231 1234563``) the check digit *is* required (RRN: (11 - s mod 11) mod 10, FRN:
  (13 - s mod 11) mod 10, weights 2..9,2..5) unless a registration keyword (주민, 등록번호,
  외국인번호, resident) is in the 20 characters before, and a bare number that is also a valid
  EAN-13 barcode with the Korean 880 prefix is left alone. Corporate registration numbers
  (법인등록번호) share the 6-7 shape and are replaced as RRN too (harmless).
* ``PHONE``: mobile ``01[016789]`` + 3-4 + 4 digits, separators a dash (spaces around it
  allowed), ``.``, space (the same one twice) or none; ``+82 10-...``, ``+82-10-...``,
  ``+82 (0)10-...``; landlines ``02``, ``0[3-6][1-5]`` and ``070`` with a separator (bare 9-10
  digit landlines are too ambiguous); a mobile or area code in parentheses ``(02) 123-4567``,
  ``(010)1234-5678``; service numbers ``15xx/16xx/18xx-xxxx`` only when a phone keyword (전화,
  문의, 상담, 고객센터, 대표번호, Tel, ☎, ...) is in the 20 characters before and no
  ``년``/``세기`` follows, so year ranges like ``1592-1598년`` stay.
* ``EMAIL``: RFC-ish local part ``@`` dotted domain with an alphabetic TLD, an ``xn--`` TLD or a
  Hangul TLD (.한국, .삼성; a particle may follow: ``회사.한국으로``); domain labels may be
  Hangul (IDN). A local part with Hangul (EAI, ``홍길동@회사.한국``) only before an
  internationalised domain. ``icon@2x.png``-style image names (TLD is a file extension) are
  not e-mails, nor are addresses at reserved example domains (example.com/.net/.org, .example,
  .test, .invalid, localhost; RFC 2606/6761): they are documentation, not anybody's address.
* ``BRN`` (business registration number): ``AAA-BB-CCCCC`` (any dash) with the check digit
  required.
* ``CARD``: 13-19 digits in groups (4-4-4-4, 4-4-4-4-3; 4-6-5 / 4-6-4 for Amex and Diners),
  each separator a dash or a space (mixed allowed: ``4111-1111 1111-1111``), first digit 2-6
  or 9 (Korean domestic cards), Luhn required. A bare 13-19 digit run is a card only with a
  card keyword (카드, card: 카드번호, 신용카드, 결제 카드, ...) in the 20 characters before
  it, and Luhn (order and tracking numbers stay).
* ``ACCOUNT`` (bank account): the digit-group shapes Korean banks print (``ACCOUNT_SHAPES_BY_BANK``:
  KB국민 6-2-6 / 3-2-4-3, 신한 3-3-6, 우리 4-3-6, 하나 3-6-5, NH농협 3-4-4-2, IBK기업 3-6-2-3,
  카카오뱅크 4-2-7, 토스뱅크 4-4-4, 새마을금고 4-2-6-1, ...), separated by one kind of dash or
  space, and only when a bank/account keyword (계좌, 은행, 입금, 예금주, 신한, 농협, KB,
  bank, ...) is in the 30 characters before it or the 12 after it (``110-123-456789 (신한)``).
  A bare 10-14 digit run is an account only right after an account word (계좌, 입금, 예금주,
  통장, 은행, 뱅크, account; 20 characters) and never when it reads as a timestamp
  (YYYYMMDDhhmm[ss]).
* ``IP``: IPv4 with valid octets (no leading zeros) and IPv6, replaced only when globally
  routable (``ipaddress``: private, loopback, link-local, documentation, multicast and
  reserved ranges are not personal data); IPv6 additionally only in 2000::/3 (all current
  global unicast). An IPv4-shaped string right after a version word (version, ver., v=, 버전,
  릴리스, release, build, 빌드) or a capitalised product name (``LibreOffice 7.4.1.2``) is a
  version number, and one at the start of a line or right after a tag, followed by ``.``
  (``8.1.6.1. 제목``, ``<h4>12.2.1.1. 제목``) is a section number; neither is an address.

Not PII (hard negatives in tests/test_pii.py and tests/pii_labelled.py): dates (2023-01-15,
2023–01–15, 2023.01.15, bare 20230115: a date, and never a valid RRN shape), times and
timestamps, prices (1,234,567원), law articles (제12조 제3항, 법률 제17799호), versions
(7.4.7), ISBNs (978-89-...), postal codes, page ranges, order and tracking numbers, product
codes. Partially masked numbers (900101-1******) are not matched. Known ambiguity: an order
number written exactly like an RRN (valid YYMMDD, a dash, 7 digits) is replaced as one.

Context checks read the *already scrubbed* text to the left, so scrubbing is idempotent.
"""

from __future__ import annotations

import calendar
import ipaddress
import re

# Every dash people type between digit groups: hyphen-minus, U+2010-U+2015 (hyphen, non-breaking
# hyphen, figure dash, en dash, em dash, horizontal bar), minus sign, small and fullwidth
# hyphen-minus. Excluded rows are not normalized, so fullwidth forms reach the scrubber too.
DASH = "[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]"
_DASH_CHARS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
# A group separator: a dash (spaces around it allowed) or one space.
_SEP = rf"(?: ?{DASH} ?| )"

# Boundaries shared by the numeric kinds.
# Not glued to ASCII letters/digits; not the middle of a longer number (12-, 3.) or of a
# hyphenated code (AB-...-9); "Tel.02-..." is still allowed.
_B = rf"(?<![0-9A-Za-z_])(?<![0-9][./])(?<![0-9A-Za-z]{DASH})"
_E = rf"(?![0-9A-Za-z_])(?![./][0-9])(?!{DASH}[0-9A-Za-z])"

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"

# E-mail domains: ASCII or Hangul labels (IDN), an alphabetic TLD, a punycode TLD or one of the
# Hangul TLDs (.한국, .삼성). A Hangul TLD may be followed by a particle (회사.한국으로).
_LABEL = r"(?:[A-Za-z0-9가-힣](?:[A-Za-z0-9가-힣-]{0,61}[A-Za-z0-9가-힣])?)"
_TLD = r"(?:[A-Za-z]{2,24}(?![A-Za-z0-9-])|xn--[A-Za-z0-9-]{2,59}(?![A-Za-z0-9-])|(?:한국|삼성)(?![A-Za-z0-9-]))"
#: E-mail candidates with an ASCII local part (it may follow Hangul directly: 메일은hong@...).
EMAIL = re.compile(rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}@(?:{_LABEL}\.)+{_TLD}")
#: "@" + an internationalised domain (a Hangul label or an xn-- label), for local parts with
#: Hangul (EAI). Found from the "@" and extended leftwards (:func:`email_spans`): a regex
#: that starts at every word character would be 3x slower on all text.
IDN_AT = re.compile(rf"@(?:{_LABEL}\.)+{_TLD}")
_IDN_LABEL = re.compile(r"[가-힣]|(?<![A-Za-z0-9-])xn--")

_MOBILE = r"1[016789]"
_AREA = r"(?:2|[3-6][1-5]|70)"
# "+82 ", "+82-", "+82 (0)", "+82-(0)": the country code, then the number without its 0.
_PLUS82 = rf"\+82 ?(?:{DASH} ?)?(?:\(0\) ?)?"

#: kind -> regex body (boundaries included); order = priority at the same start position.
#: Every body starts with a digit, "+" or "(", which the combined regex checks first: that
#: leading lookahead makes the scan ~20x faster on Korean text than a bare alternation.
PATTERN_BODIES: dict[str, str] = {
    "rrn": _B + rf"[0-9]{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?: ?{DASH} ?| )?[0-9]{{7}}" + _E,
    "card": _B
    + (
        rf"(?:[2-69][0-9]{{3}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}(?:{_SEP}[0-9]{{3}})?"
        rf"|3[0-9]{{3}}{_SEP}[0-9]{{6}}{_SEP}[0-9]{{4,5}})"
    )
    + _E,
    "brn": _B + rf"[0-9]{{3}}{DASH}[0-9]{{2}}{DASH}[0-9]{{5}}" + _E,
    "phone": _B
    + (
        rf"(?:(?:{_PLUS82}|0){_MOBILE}(?P<m_sep> ?{DASH} ?|[. ]|)[0-9]{{3,4}}(?P=m_sep)[0-9]{{4}}"
        rf"|(?:{_PLUS82}|0){_AREA}(?P<l_sep> ?{DASH} ?|[. ])[0-9]{{3,4}}(?P=l_sep)[0-9]{{4}}"
        rf"|\(0(?:{_MOBILE}|{_AREA})\)(?: ?{DASH} ?| )?[0-9]{{3,4}}(?: ?{DASH} ?|[. ])[0-9]{{4}})"
    )
    + _E,
    "account": _B
    + (rf"[0-9]{{2,6}}(?P<a_sep> ?{DASH} ?| )[0-9]{{2,7}}(?P=a_sep)[0-9]{{1,7}}(?:(?P=a_sep)[0-9]{{1,3}})?")
    + _E,
    "service": _B + rf"1[568][0-9]{{2}}{DASH}[0-9]{{4}}" + _E + r"(?! ?(?:년|세기))",
    "card_bare": _B + r"[2-69][0-9]{12,18}" + _E,
    "account_bare": _B + r"[0-9]{10,14}" + _E,
    "ipv4": _B + _OCTET + r"(?:\." + _OCTET + r"){3}" + _E,
    # 2000::/3 only (see the module docstring), so the first hextet starts with 2 or 3
    "ipv6": r"(?<![0-9A-Za-z_:.])[23][0-9A-Fa-f]{3}:(?:[0-9A-Fa-f]{0,4}:){1,6}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])",
}
KINDS: tuple[str, ...] = tuple(PATTERN_BODIES)
COMBINED = re.compile("(?=[0-9+(])(?:" + "|".join(f"(?P<{kind}>{body})" for kind, body in PATTERN_BODIES.items()) + ")")
#: Each kind alone, to retry lower-priority kinds where a higher one matched but failed validation.
SINGLE = {kind: re.compile(body) for kind, body in PATTERN_BODIES.items()}

PHONE_KEYWORDS = re.compile(
    r"(?i)(?:전화|연락|문의|상담|고객\s?센터|콜\s?센터|대표\s?번호|번호|안내|예약|tel|phone|call|fax|팩스|☎|☏|📞|ars)"
)
RRN_KEYWORDS = re.compile(r"(?i)(?:주민|등록\s?번호|외국인\s?번호|resident)")
CARD_KEYWORDS = re.compile(r"(?i)(?:카드|card)")
# Bank names that are also everyday words (국민 "citizens", 우리 "we", 하나 "one", 기업
# "company", 부산/대구/광주 cities) only count through 은행/뱅크, which are keywords themselves.
ACCOUNT_KEYWORDS = re.compile(
    r"(?i)(?:계좌|은행|입금|예금주|송금|이체|통장|뱅크|뱅킹|농협|신한|우체국|새마을|신협|수협|"
    r"씨티|sc제일|토스|저축|금고|account|bank|(?<![a-z])(?:kb|nh|ibk)(?![a-z]))"
)
# For bare digit runs only the words that name an account itself (우체국 is also the parcel
# service, 카드/결제 numbers are not accounts).
BARE_ACCOUNT_KEYWORDS = re.compile(r"(?i)(?:계좌|입금|예금주|통장|은행|뱅크|account)")
VERSION_WORDS = re.compile(r"(?i)(?:(?<![a-z])v|version|ver\.?|버전|릴리스|릴리즈|release|build|빌드)\s*[:=]?\s*$")
# A capitalised product name right before a dotted quad: "LibreOffice 7.4.1.2", "Windows 10.0.1.2".
PRODUCT_NAME = re.compile(r"(?:^|[^A-Za-z])[A-Z][a-z][A-Za-z]* $")
# RFC 2606 / 6761 reserved names used in examples: not anybody's address.
RESERVED_EMAIL_DOMAINS = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost)$")
#: Digit-group shapes of Korean bank accounts, by bank (as the banks print them; older
#: numbering kept because old accounts stay open).
ACCOUNT_SHAPES_BY_BANK: dict[str, tuple[tuple[int, ...], ...]] = {
    "KB국민": ((6, 2, 6), (3, 2, 4, 3), (4, 2, 4, 1), (2, 3, 6, 3)),
    "신한": ((3, 3, 6), (3, 2, 6)),
    "우리": ((4, 3, 6), (3, 6, 2, 3), (3, 2, 6)),
    "하나": ((3, 6, 5), (3, 6, 3), (3, 2, 6)),
    "NH농협": ((3, 4, 4, 2), (6, 2, 6), (3, 2, 6), (3, 2, 4, 1)),
    "IBK기업": ((3, 6, 2, 3), (3, 6, 3)),
    "SC제일": ((3, 2, 6), (3, 3, 5)),
    "카카오뱅크": ((4, 2, 7),),
    "토스뱅크": ((4, 4, 4),),
    "케이뱅크": ((3, 3, 6),),
    "우체국": ((6, 2, 6),),
    "새마을금고": ((4, 2, 6, 1), (4, 4, 4, 1)),
    "수협": ((4, 4, 4), (3, 2, 6, 1)),
    "씨티": ((3, 6, 3), (3, 5, 3), (2, 6, 3)),
    "신협": ((5, 2, 6), (3, 3, 6)),
    "지방은행": ((3, 4, 4, 2), (3, 2, 6, 1), (3, 2, 7), (3, 3, 6)),
}
ACCOUNT_SHAPES = frozenset(shape for shapes in ACCOUNT_SHAPES_BY_BANK.values() for shape in shapes)
FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "js", "css", "html", "htm"})
PHONE_CONTEXT_CHARS = 20
ACCOUNT_CONTEXT_CHARS = 30
#: a hyphenated account shape also counts with its bank named right after it ("... (신한)").
ACCOUNT_RIGHT_CONTEXT_CHARS = 12
#: bare digit runs (RRN without a check digit, cards, accounts) need their keyword this close.
BARE_CONTEXT_CHARS = 20
VERSION_CONTEXT_CHARS = 20

_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_CENTURY = {
    "9": 1800,
    "0": 1800,
    "1": 1900,
    "2": 1900,
    "5": 1900,
    "6": 1900,
    "3": 2000,
    "4": 2000,
    "7": 2000,
    "8": 2000,
}


def digits_of(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


def has_dash(candidate: str) -> bool:
    return any(c in _DASH_CHARS for c in candidate)


def registration_kind(candidate: str, left_context: str = "") -> str | None:
    """``"RRN"``, ``"FRN"`` or None for a YYMMDD-GHIJKLX candidate (rules: module docstring)."""
    d = digits_of(candidate)
    gender = d[6]
    century = _CENTURY.get(gender)
    if century is None:
        return None
    year, month, day = century + int(d[0:2]), int(d[2:4]), int(d[4:6])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    kind = "FRN" if gender in "5678" else "RRN"
    if not has_dash(candidate) and not RRN_KEYWORDS.search(left_context[-BARE_CONTEXT_CHARS:]):
        # bare or space-separated without a keyword: the check digit is required
        s = sum(int(c) * w for c, w in zip(d[:12], _RRN_WEIGHTS, strict=True))
        check = (13 - s % 11) % 10 if kind == "FRN" else (11 - s % 11) % 10
        if check != int(d[12]) or (d.startswith("880") and ean13_valid(d)):
            return None
    return kind


def ean13_valid(d: str) -> bool:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d[:12]))
    return (10 - total % 10) % 10 == int(d[12])


def brn_valid(candidate: str) -> bool:
    d = [int(c) for c in digits_of(candidate)]
    s = sum(x * w for x, w in zip(d[:9], _BRN_WEIGHTS, strict=True)) + (d[8] * 5) // 10
    return (10 - s % 10) % 10 == d[9]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        x = int(c)
        if i % 2:
            x *= 2
            if x > 9:
                x -= 9
        total += x
    return total % 10 == 0


def card_valid(candidate: str) -> bool:
    d = digits_of(candidate)
    return 13 <= len(d) <= 19 and luhn_valid(d)


_GROUPS = re.compile(r"[0-9]+")


def account_shape_valid(candidate: str) -> bool:
    return tuple(len(g) for g in _GROUPS.findall(candidate)) in ACCOUNT_SHAPES


def _local_char(c: str) -> bool:
    return c.isalnum() or c in "._%+-"


def email_spans(text: str) -> list[tuple[int, int]]:
    """Non-overlapping ``(start, end)`` of valid e-mail addresses in ``text``, leftmost first.

    ASCII local parts come from ``EMAIL``; a local part with non-ASCII letters only before an
    internationalised domain, and only after a non-word character (the whole run of word
    characters before the "@" is the local part)."""
    spans = [(m.start(), m.end()) for m in EMAIL.finditer(text)]
    for m in IDN_AT.finditer(text):
        if not _IDN_LABEL.search(m.group(), 1):
            continue
        at = m.start()
        start = at
        while start > 0 and at - start < 64 and _local_char(text[start - 1]):
            start -= 1
        if start < at and not (start > 0 and _local_char(text[start - 1])):
            spans.append((start, m.end()))
    if len(spans) > 1:
        spans.sort(key=lambda span: (span[0], -span[1]))
        kept: list[tuple[int, int]] = []
        for span in spans:
            if not kept or span[0] >= kept[-1][1]:
                kept.append(span)
        spans = kept
    return [span for span in spans if email_valid(text[span[0] : span[1]])]


_TIMESTAMP = re.compile(
    r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9](?:[0-5][0-9])?"
)


def bare_account_valid(candidate: str, left_context: str) -> bool:
    """A bare 10-14 digit run is an account only right after an account word, and never when it
    reads as a timestamp (YYYYMMDDhhmm[ss]: transaction times beside 입금/은행)."""
    keyword = BARE_ACCOUNT_KEYWORDS.search(left_context[-BARE_CONTEXT_CHARS:])
    return bool(keyword) and not _TIMESTAMP.fullmatch(candidate)


def email_valid(candidate: str) -> bool:
    domain = candidate.rsplit("@", 1)[1].lower()
    if domain.rsplit(".", 1)[1] in FILE_EXTENSIONS:
        return False
    return not RESERVED_EMAIL_DOMAINS.search(domain)


def ipv4_valid(candidate: str, left_context: str, right_char: str) -> bool:
    """Global IPv4 that is not a version number or a section number (see module docstring)."""
    if VERSION_WORDS.search(left_context) or PRODUCT_NAME.search(left_context):
        return False
    at_line_start = left_context.rstrip(" ").endswith("\n") or not left_context.strip(" ")
    after_tag = left_context.endswith(">")  # markup: <h4 class="title">8.1.6.1. dpkg-deb</h4>
    if (at_line_start or after_tag) and right_char == ".":  # "8.1.6.1. 다른 패키지 관리 도구"
        return False
    return ipaddress.IPv4Address(candidate).is_global


def ipv6_valid(candidate: str) -> bool:
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return address.is_global and address in _GLOBAL_UNICAST


_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
