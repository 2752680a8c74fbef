"""Raw page bytes -> text: charset resolution for Korean pages, and the ``decode`` step.

:func:`decode_html_bytes` tries, in order: a byte-order mark; the HTTP Content-Type charset; a
``<meta charset>`` / ``<meta http-equiv="content-type">`` / XML declaration in the first 4 KB;
detection with charset-normalizer; and finally CP949 (this is a Korean toolkit). Every candidate
is decoded *strictly*; a label whose strict decode fails is distrusted and the next candidate is
tried, so a page that says euc-kr but is UTF-8 (or the reverse) still decodes right. A page that
is valid UTF-8 with non-ASCII bytes is decoded as UTF-8 whatever a legacy label says: real
CP949/Latin text is practically never valid UTF-8 by accident.

Korean labels (euc-kr, ks_c_5601-1987, ks_c_5601, ksc5601, x-windows-949, ...) all decode as
``cp949``: Python's ``euc-kr`` codec rejects the UHC extension syllables (똠, 뷁, 햏, 쌰) that
real "euc-kr" pages contain. Latin-1/ASCII labels decode as windows-1252, as browsers do.

Only when no candidate decodes strictly is a lenient decode (``errors="replace"``) accepted, and
only if its replacement characters stay within ``max_replacement_ratio`` of the text (one is
always tolerated: a page cut inside a multi-byte character); otherwise
:class:`DecodeError` with reason ``undecodable``. Binary junk (file signatures, NUL bytes,
control bytes) raises with reason ``binary_content``.

The raw-byte Hangul pre-check lives in :mod:`hanforge.corpus.hangul_precheck` and is re-exported
here (``hangul_byte_ratio``, ``looks_korean``, ``korean_precheck``).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from datatrove.data import Document, DocumentsPipeline

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus.hangul_precheck import (  # noqa: F401  (public API, registers hangul_precheck)
    HangulPrecheckConfig,
    hangul_byte_ratio,
    korean_precheck,
    looks_korean,
)
from hanforge.corpus.steps import DocumentStep, is_dropped
from hanforge.errors import HanforgeError
from hanforge.shards import document_keys as keys

UNDECODABLE = "undecodable"
BINARY_CONTENT = "binary_content"
DEFAULT_MAX_REPLACEMENT_RATIO = 0.001

_KOREAN_LABELS = {
    "euc-kr",
    "euc_kr",
    "euckr",
    "x-euc-kr",
    "cseuckr",
    "ks_c_5601-1987",
    "ks_c_5601_1987",
    "ks_c_5601",
    "ks_c_5601-1989",
    "ksc5601",
    "ksc_5601",
    "ks-c-5601",
    "iso-ir-149",
    "korean",
    "windows-949",
    "x-windows-949",
    "cp949",
    "ms949",
    "uhc",
    "x-uhc",
}
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "iso_8859-1"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)["']""", re.IGNORECASE)
_BINARY_SIGNATURES = (
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"RIFF",
    b"OggS",
    b"\x00\x00\x01\x00",
    b"wOFF",
    b"wOF2",
    b"\x28\xb5\x2f\xfd",
)
# C0 control bytes that never occur in text (tab, LF, FF, CR, ESC, SO/SI of ISO-2022-KR excluded)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 14, 15, 27)) + b"\x7f"
_SNIFF_BYTES = 4096
_BINARY_SAMPLE = 65536


class DecodeError(HanforgeError):
    """Raw bytes cannot be turned into text; ``reason`` is the drop reason to record."""

    def __init__(self, message: str, *, reason: str = UNDECODABLE):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DecodeResult:
    """A decoded page: ``text``, the codec used, where the choice came from, and replacements."""

    text: str
    charset: str
    source: str  # "bom", "http", "meta", "utf8_override", "detected", "fallback"
    num_replacements: int = 0


def normalize_charset(label: str | None) -> str | None:
    """Canonical Python codec name for a charset label, or None when unknown/empty.

    Korean labels become ``cp949``, Latin-1/ASCII labels ``cp1252`` (WHATWG), ``utf8`` ``utf-8``.
    """
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    if not name:
        return None
    if name in _KOREAN_LABELS:
        return "cp949"
    if name in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    return {"euc_kr": "cp949", "iso2022_kr": "iso2022_kr", "latin-1": "cp1252", "iso8859-1": "cp1252"}.get(
        canonical, canonical
    )


def sniff_declared_charset(raw: bytes) -> str | None:
    """The charset a ``<meta>`` tag or XML declaration in the first 4 KB names, raw label."""
    head = raw[:_SNIFF_BYTES]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def binary_reason(raw: bytes) -> str | None:
    """Why ``raw`` looks like binary data rather than text (None when it looks like text)."""
    head = raw[:_BINARY_SAMPLE]
    stripped = head.lstrip()
    for signature in _BINARY_SIGNATURES:
        if head.startswith(signature) or stripped.startswith(signature):
            return f"signature {signature[:4]!r}"
    if not head:
        return None
    nul = head.count(b"\x00")
    if nul > max(1, len(head) // 1000):
        return f"{nul} NUL bytes in the first {len(head)}"
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > 0.05 * len(head):
        return f"{controls} control bytes in the first {len(head)}"
    return None


def _strict(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(raw: bytes) -> str | None:
    best = from_bytes(raw[: 1 << 20]).best()
    return normalize_charset(best.encoding) if best is not None else None


def decode_page(
    raw: bytes, *, http_charset: str | None = None, max_replacement_ratio: float = DEFAULT_MAX_REPLACEMENT_RATIO
) -> DecodeResult:
    """Decode raw page bytes; see the module docstring for the order. Raises DecodeError."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            text = _strict(raw, codec)
            if text is not None:
                return DecodeResult(text.lstrip("\ufeff"), name, "bom")
            break
    why_binary = binary_reason(raw)
    if why_binary:
        raise DecodeError(f"binary content: {why_binary}", reason=BINARY_CONTENT)
    labelled: list[tuple[str, str]] = []  # (where the label came from, codec)
    for source, label in (("http", http_charset), ("meta", sniff_declared_charset(raw))):
        codec = normalize_charset(label)
        if codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32") and not raw.startswith((b"\xff", b"\xfe")):
            codec = "utf-8"  # an ASCII-compatible page (no BOM) cannot really be UTF-16
        if codec and all(codec != c for _, c in labelled):
            labelled.append((source, codec))

    if raw.isascii():  # decodes identically under every ASCII-compatible label: report the label
        source, codec = labelled[0] if labelled else ("detected", "utf-8")
        return DecodeResult(raw.decode("ascii"), codec, source)
    utf8 = _strict(raw, "utf-8")
    if utf8 is not None:
        source = next((s for s, c in labelled if c == "utf-8"), "utf8_override" if labelled else "detected")
        return DecodeResult(utf8, "utf-8", source)
    for source, codec in labelled:
        text = _strict(raw, codec)
        if text is not None:
            return DecodeResult(text, codec, source)

    tried = {"utf-8", *(c for _, c in labelled)}
    detected = _detect(raw)
    candidates = [("detected", detected)] if detected and detected not in tried else []
    if "cp949" not in tried and detected != "cp949":
        candidates.append(("fallback", "cp949"))
    for source, codec in candidates:
        text = _strict(raw, codec)
        if text is not None:
            return DecodeResult(text, codec, source)

    # nothing decodes strictly: accept the least damaged lenient decode within the tolerance
    best: DecodeResult | None = None
    for source, codec in [*labelled, ("utf8_override", "utf-8"), *candidates]:
        try:
            text = raw.decode(codec, errors="replace")
        except LookupError:
            continue
        bad = text.count("\ufffd")
        if best is None or bad < best.num_replacements:
            best = DecodeResult(text, codec, source, bad)
    if best is not None and best.num_replacements <= max(1.0, max_replacement_ratio * len(best.text)):
        return best
    labels = ", ".join(f"{s}={c}" for s, c in labelled) or "none"
    detail = f"{best.num_replacements} replacement characters with {best.charset}" if best else "no codec"
    raise DecodeError(f"undecodable: labels {labels}; best lenient decode has {detail}", reason=UNDECODABLE)


def decode_html_bytes(
    raw: bytes, *, http_charset: str | None = None, max_replacement_ratio: float = DEFAULT_MAX_REPLACEMENT_RATIO
) -> tuple[str, str]:
    """Decode raw HTML bytes to ``(text, charset_used)``; raise :class:`DecodeError` if impossible."""
    result = decode_page(raw, http_charset=http_charset, max_replacement_ratio=max_replacement_ratio)
    return result.text, result.charset


def decode_text_bytes(raw: bytes, *, max_replacement_ratio: float = DEFAULT_MAX_REPLACEMENT_RATIO) -> tuple[str, str]:
    """Decode a plain-text file's bytes (BOM, UTF-8, detection, CP949) to ``(text, charset_used)``."""
    result = decode_page(raw, max_replacement_ratio=max_replacement_ratio)
    return result.text, result.charset


@register_step
@dataclass(frozen=True)
class DecodeConfig(StepConfig):
    """``decode``: turn raw HTML bytes into markup text with the right charset.

    Applies to documents with ``_format = "html"`` (WARC records, HTML files); sets ``text`` to
    the decoded markup and ``charset`` to the codec used, then deletes the raw bytes. Drop
    reasons: ``undecodable``, ``binary_content``. Counters: ``charset/<codec>`` and
    ``charset_source/<bom|http|meta|utf8_override|detected|fallback>``.

    max_replacement_ratio: when no charset decodes the bytes strictly, accept the least damaged
        lenient decode if its U+FFFD replacement characters are at most this share of the text
        (default 0.001; a single one is always tolerated); otherwise drop as ``undecodable``.
    """

    step_type = "decode"
    max_replacement_ratio: float = DEFAULT_MAX_REPLACEMENT_RATIO

    def validate(self) -> None:
        require(
            0.0 <= self.max_replacement_ratio < 1.0,
            "max_replacement_ratio",
            f"must be in [0, 1), got {self.max_replacement_ratio}",
        )

    def build(self) -> DecodeStep:
        return DecodeStep(self)


class DecodeStep(DocumentStep):
    """The ``decode`` step; see :class:`DecodeConfig`."""

    name = "decode"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        return super().run(self._free_dropped(data), rank, world_size)

    @staticmethod
    def _free_dropped(data: DocumentsPipeline) -> DocumentsPipeline:
        """Release the raw bytes of documents an earlier step dropped (they are never decoded)."""
        for doc in data:
            if is_dropped(doc):
                doc.metadata.pop(keys.RAW, None)
            yield doc

    def process(self, doc: Document) -> str | None:
        if doc.metadata.get(keys.FORMAT) != keys.FORMAT_HTML:
            return None
        raw = doc.metadata.pop(keys.RAW, None)
        if raw is None:
            return "missing_raw_bytes"
        try:
            result = decode_page(
                raw,
                http_charset=doc.metadata.get(keys.HTTP_CHARSET),
                max_replacement_ratio=self.config.max_replacement_ratio,
            )
        except DecodeError as exc:
            return exc.reason
        doc.text = result.text
        doc.metadata["charset"] = result.charset
        self.stat_update(f"charset/{result.charset}", f"charset_source/{result.source}")
        if result.num_replacements:
            self.stat_update("replacement_chars", value=result.num_replacements)
        return None
