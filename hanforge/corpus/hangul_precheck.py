"""A cheap raw-byte Hangul pre-check, and the ``hangul_precheck`` step built on it.

Decoding and HTML extraction are the expensive part of a web pipeline; most pages of a generic
crawl are not Korean. :func:`hangul_byte_ratio` estimates, *without decoding*, which share of a
page's bytes encode Hangul syllables, so non-Korean pages can be dropped before they are decoded.

How the estimate works (hand-written because no library does byte-level script counting; numpy
keeps it at hundreds of MB/s):

* If the page is valid UTF-8 (checked by the C codec), it is treated as UTF-8 and Hangul syllables (U+AC00-U+D7A3) are counted by their lead bytes
  0xEA-0xED (U+A000-U+DFFF; the few non-Hangul code points in that block -- Yi, Vai, jamo
  extensions -- are rare enough to ignore). Each is 3 bytes.
* Otherwise the page is treated as CP949/EUC-KR: double-byte characters are aligned by the parity
  of their position inside each run of high bytes, and a pair counts as Hangul when a 65,536-entry
  table (built once by decoding every pair with Python's cp949 codec) says it is a syllable:
  the KS X 1001 Hangul block (lead 0xB0-0xC8) and the UHC extension (lead 0x81-0xC6). Each is
  2 bytes. Other double-byte encodings (Shift_JIS, EUC-JP, GB2312, Big5) share these byte
  ranges, so from 32 pairs on they only count when at least 5% of them are among the 30 most
  frequent Korean syllables (이 다 는 의 에 ...): about 20-40% in Korean text, about 0% in those.
  The ratio is then computed as if the page were UTF-8 (3 bytes per syllable, ``3h / (n + h)``),
  so one threshold means the same for both encodings.

The ratio is Hangul bytes / all bytes of the raw page, markup included, so it is small for
markup-heavy pages: thresholds are low (default 0.01). The pre-check is a recall-first gate;
the precise ``hangul_ratio`` filter runs on extracted text later. The measured recall on the
LibreOffice help pages is in ``bench/results/hangul_precheck.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.steps import DocumentStep
from hanforge.shards import document_keys as keys

#: Drop reason of pages the pre-check rejects.
NOT_KOREAN_PRECHECK = "not_korean_precheck"
DEFAULT_MIN_RATIO = 0.01
_COMMON_SYLLABLES = "이다는의에하고을가지서로기한사니리자도대들수시어나아일적인정"
_MIN_COMMON_SHARE = 0.05
_MIN_PAIRS_FOR_COMMON_CHECK = 32


def _cp949_tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables over all 65,536 byte pairs: is a CP949 Hangul syllable / a common one."""
    hangul = np.zeros(1 << 16, dtype=bool)
    for lead in range(0x81, 0xFF):
        for trail in range(0x41, 0xFF):
            try:
                ch = bytes((lead, trail)).decode("cp949")
            except UnicodeDecodeError:
                continue
            hangul[(lead << 8) | trail] = "\uac00" <= ch <= "\ud7a3"
    common = np.zeros(1 << 16, dtype=bool)
    common[[int.from_bytes(ch.encode("cp949"), "big") for ch in _COMMON_SYLLABLES]] = True
    return hangul, common


_CP949_HANGUL, _CP949_COMMON = _cp949_tables()


#: bytes.translate deletion table: everything but 0xEA-0xED, the UTF-8 lead bytes of U+A000-U+DFFF
_NOT_HANGUL_LEAD = bytes(b for b in range(256) if not 0xEA <= b <= 0xED)


def _utf8_hangul_syllables(raw: bytes) -> int | None:
    """Hangul syllables in ``raw`` if it is UTF-8 (a sequence cut by the end is allowed), else None.

    The C UTF-8 codec validates (about 1 GB/s, the decoded string is thrown away) and one
    ``bytes.translate`` deleting every other byte counts the lead bytes: in valid UTF-8, bytes
    0xEA-0xED only occur as leads. Measured 3x faster than counting byte classes in Python on
    the LibreOffice pages, with identical decisions.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 3 or exc.reason != "unexpected end of data":
            return None
    return len(raw.translate(None, _NOT_HANGUL_LEAD))


def _cp949_hangul_pairs(a: np.ndarray) -> int:
    """Number of Hangul double-byte characters in CP949 bytes ``a``.

    Only high bytes (>= 0x81) are looked at: inside each run of consecutive high bytes, lead
    bytes sit at even offsets (a UHC trail byte in the ASCII range ends the run, which keeps
    the next run aligned too).
    """
    high_pos = np.flatnonzero(a >= 0x81)
    if high_pos.size == 0:
        return 0
    k = np.arange(high_pos.size)
    new_run = np.empty(high_pos.size, dtype=bool)
    new_run[0] = True
    np.not_equal(high_pos[1:], high_pos[:-1] + 1, out=new_run[1:])
    run_start = np.where(new_run, k, 0)
    np.maximum.accumulate(run_start, out=run_start)
    lead_pos = high_pos[((k - run_start) & 1) == 0]
    if lead_pos.size and lead_pos[-1] == a.size - 1:  # a lead byte needs a trail byte
        lead_pos = lead_pos[:-1]
    codes = (a[lead_pos].astype(np.uint16) << 8) | a[lead_pos + 1]
    hangul = int(np.count_nonzero(_CP949_HANGUL[codes]))
    if hangul >= _MIN_PAIRS_FOR_COMMON_CHECK and np.count_nonzero(_CP949_COMMON[codes]) < _MIN_COMMON_SHARE * hangul:
        return 0  # Shift_JIS, GB2312, Big5, ... rather than Korean
    return hangul


def hangul_byte_ratio(raw: bytes) -> float:
    """Share of ``raw``'s bytes that encode Hangul syllables (UTF-8 or CP949), without decoding.

    For CP949 input the share is that of the same page re-encoded as UTF-8.
    """
    if not raw or raw.isascii():
        return 0.0
    syllables = _utf8_hangul_syllables(raw)
    if syllables is not None:
        return 3 * syllables / len(raw)
    syllables = _cp949_hangul_pairs(np.frombuffer(raw, dtype=np.uint8))
    return 3 * syllables / (len(raw) + syllables)  # as if re-encoded in UTF-8 (2 -> 3 bytes each)


def looks_korean(raw: bytes, *, min_ratio: float = DEFAULT_MIN_RATIO) -> bool:
    """Whether at least ``min_ratio`` of ``raw``'s bytes encode Hangul (see :func:`hangul_byte_ratio`)."""
    return hangul_byte_ratio(raw) >= min_ratio


def warc_language_allows(warc_lang: str | None) -> bool:
    """False when a WARC-Identified-Content-Language header exists and does not list ``kor``."""
    if not warc_lang:
        return True
    return "kor" in {part.strip().lower() for part in warc_lang.split(",")}


def korean_precheck(
    raw: bytes, *, warc_lang: str | None = None, min_ratio: float = DEFAULT_MIN_RATIO, use_warc_language: bool = True
) -> bool:
    """The whole pre-check the step, the WARC reader and the crawler share: keep (True) or not.

    With ``use_warc_language`` a present WARC-Identified-Content-Language header without ``kor``
    rejects the page without looking at its bytes; otherwise :func:`looks_korean` decides.
    """
    if use_warc_language and not warc_language_allows(warc_lang):
        return False
    return looks_korean(raw, min_ratio=min_ratio)


@register_step
@dataclass(frozen=True)
class HangulPrecheckConfig(StepConfig):
    """``hangul_precheck``: drop pages with too few Hangul bytes before decoding them.

    Applies to raw HTML documents (``_format = "html"``); documents that are already text pass
    through (the ``hangul_ratio`` step judges them). Drop reason: ``not_korean_precheck``.

    min_ratio: minimum share of the raw page's bytes (markup included) that encode Hangul
        syllables, UTF-8 or CP949 (default 0.01). 0 disables the byte check.
    use_warc_language: when a WARC record carried WARC-Identified-Content-Language and it does
        not list ``kor``, drop without looking at the bytes (default true).
    """

    step_type = "hangul_precheck"
    min_ratio: float = DEFAULT_MIN_RATIO
    use_warc_language: bool = True

    def validate(self) -> None:
        require(0.0 <= self.min_ratio <= 1.0, "min_ratio", f"must be in [0, 1], got {self.min_ratio}")

    def build(self) -> HangulPrecheck:
        return HangulPrecheck(self)


class HangulPrecheck(DocumentStep):
    """The ``hangul_precheck`` step; see :class:`HangulPrecheckConfig`."""

    name = "hangul_precheck"

    def process(self, doc: Document) -> str | None:
        if doc.metadata.get(keys.FORMAT) != keys.FORMAT_HTML:
            self.stat_update("passed_not_html")
            return None
        if self.config.use_warc_language and not warc_language_allows(doc.metadata.get(keys.WARC_LANG)):
            self.stat_update("rejected_by_warc_language")
            return NOT_KOREAN_PRECHECK
        if not looks_korean(doc.metadata.get(keys.RAW) or b"", min_ratio=self.config.min_ratio):
            return NOT_KOREAN_PRECHECK
        return None
