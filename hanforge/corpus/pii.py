"""Korean PII scrubbing: the ``pii`` step and :func:`scrub_pii`.

Replaces resident/foreigner registration numbers, phone numbers, e-mail addresses, business
registration numbers, card numbers, bank accounts and public IP addresses with placeholders
(``<RRN>``, ``<FRN>``, ``<PHONE>``, ``<EMAIL>``, ``<BRN>``, ``<CARD>``, ``<ACCOUNT>``, ``<IP>``).
The patterns, validators and the exact rules (what counts, what is deliberately left alone)
are in :mod:`hanforge.corpus.pii_patterns`.

Written here rather than taken from a library: datatrove's ``PIIFormatter`` does e-mails and
public IPs only (and reads versions like ``7.4.1.2`` as IPs), and Presidio's Korean
recognizers (RRN, FRN, BRN, ...) run inside an analyzer engine that loads spaCy and an NLP
model per process. The scan is one combined regex for the numeric
kinds (plus an e-mail regex when the text has an ``@``); where the highest-priority kind at a
position fails its validator (a bad check digit, an invalid date), the lower-priority kinds are
tried at the same position before the scan moves on.

Offsets in :class:`PiiMatch` index the text that was passed in. Scrubbing is idempotent with
the default placeholders: context rules look at the already scrubbed text on the left, and
placeholders contain no digits.

The step sets ``num_pii`` and ``pii_types`` (sorted distinct types) on every live document and
counts ``pii/<TYPE>`` in the stats. It never drops a document.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar

from datatrove.data import Document

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus import pii_patterns as pp
from hanforge.corpus.steps import DocumentStep

#: Every PII type, in the order the docs list them.
PII_TYPES: tuple[str, ...] = ("RRN", "FRN", "PHONE", "EMAIL", "BRN", "CARD", "ACCOUNT", "IP")


@dataclasses.dataclass(frozen=True)
class PiiMatch:
    """One PII span: its type and ``[start, end)`` offsets into the original text."""

    type: str
    start: int
    end: int


def _left_context(parts: list[str], n: int) -> str:
    """The last ``n`` characters of ``"".join(parts)`` without joining everything."""
    tail: list[str] = []
    size = 0
    for part in reversed(parts):
        tail.append(part)
        size += len(part)
        if size >= n:
            break
    return "".join(reversed(tail))[-n:]


def _classify(kind: str, candidate: str, left: str, right_char: str) -> str | None:
    """The PII type of a regex candidate of ``kind``, or None if its validator rejects it."""
    if kind == "rrn":
        return pp.registration_kind(candidate)
    if kind == "card":
        return "CARD" if pp.card_valid(candidate) else None
    if kind == "brn":
        return "BRN" if pp.brn_valid(candidate) else None
    if kind == "phone":
        return "PHONE"
    if kind == "account":
        ok = pp.account_shape_valid(candidate) and pp.ACCOUNT_KEYWORDS.search(left[-pp.ACCOUNT_CONTEXT_CHARS :])
        return "ACCOUNT" if ok else None
    if kind == "service":
        return "PHONE" if pp.PHONE_KEYWORDS.search(left[-pp.PHONE_CONTEXT_CHARS :]) else None
    if kind == "ipv4":
        return "IP" if pp.ipv4_valid(candidate, left[-pp.VERSION_CONTEXT_CHARS :], right_char) else None
    if kind == "ipv6":
        return "IP" if pp.ipv6_valid(candidate) else None
    raise AssertionError(f"unknown pattern kind {kind}")


_CONTEXT_CHARS = max(pp.PHONE_CONTEXT_CHARS, pp.ACCOUNT_CONTEXT_CHARS, pp.VERSION_CONTEXT_CHARS)


class PiiScrubber:
    """Detect and replace PII; ``types`` selects what is replaced, ``placeholders`` overrides
    ``<TYPE>`` per type. Disabled types are still detected (so their digits are never re-read
    as another type) but left in place and not reported."""

    def __init__(self, *, types: tuple[str, ...] = PII_TYPES, placeholders: dict[str, str] | None = None):
        self.types = frozenset(types)
        self.placeholders = {t: f"<{t}>" for t in PII_TYPES} | dict(placeholders or {})

    def _match_at(self, text: str, m, left: str) -> tuple[str, int] | None:
        """(type, end) of the first kind that validates at ``m.start()``, else None."""
        kind = next(k for k in pp.KINDS if m.group(k) is not None)
        found = _classify(kind, m.group(kind), left, text[m.end() : m.end() + 1])
        if found is not None:
            return found, m.end(kind)
        start = m.start()
        for other in pp.KINDS[pp.KINDS.index(kind) + 1 :]:
            om = pp.SINGLE[other].match(text, start)
            if om is not None:
                found = _classify(other, om.group(), left, text[om.end() : om.end() + 1])
                if found is not None:
                    return found, om.end()
        return None

    def scrub(self, text: str) -> tuple[str, list[PiiMatch]]:
        """Return ``(scrubbed_text, matches)``; offsets index ``text``.

        A replacement can expose a new match beside its placeholder (``2001:4860::10010-1234-5678a@b.co``:
        once the e-mail is replaced, ``2001:4860::`` is a valid IPv6 address), so the scrubbed text
        is scanned again until nothing changes; later matches are mapped back to ``text``'s
        offsets. That makes scrubbing idempotent.
        """
        scrubbed, matches = self._scrub_once(text)
        while matches:
            again, more = self._scrub_once(scrubbed)
            if not more:
                break
            matches = sorted([*matches, *(self._to_original(m, matches) for m in more)], key=lambda m: m.start)
            scrubbed = again
        return scrubbed, matches

    def _to_original(self, match: PiiMatch, earlier: list[PiiMatch]) -> PiiMatch:
        """``match`` (offsets in the text scrubbed of ``earlier``) with offsets in the original."""
        shift = 0  # scrubbed offset - original offset, before the current position
        for m in sorted(earlier, key=lambda m: m.start):
            if m.start + shift >= match.start:
                break
            shift += len(self.placeholders[m.type]) - (m.end - m.start)
        return PiiMatch(match.type, match.start - shift, match.end - shift)

    def _scrub_once(self, text: str) -> tuple[str, list[PiiMatch]]:
        parts: list[str] = []
        matches: list[PiiMatch] = []
        copied = 0  # text[:copied] is already in parts
        pos = 0
        emails = [m for m in pp.EMAIL.finditer(text) if pp.email_valid(m.group())] if "@" in text else []
        next_email = 0
        while True:
            m = pp.COMBINED.search(text, pos)
            while next_email < len(emails) and emails[next_email].start() < pos:
                next_email += 1  # inside a span already taken
            email = emails[next_email] if next_email < len(emails) else None
            if email is not None and (m is None or email.start() <= m.start()):
                start, end, pii_type = email.start(), email.end(), "EMAIL"
                next_email += 1
            elif m is not None:
                start = m.start()
                left = _left_context([*parts, text[max(copied, start - _CONTEXT_CHARS) : start]], _CONTEXT_CHARS)
                hit = self._match_at(text, m, left)
                if hit is None:
                    pos = start + 1
                    continue
                pii_type, end = hit
            else:
                break
            if pii_type in self.types:
                parts.append(text[copied:start])
                parts.append(self.placeholders[pii_type])
                matches.append(PiiMatch(pii_type, start, end))
                copied = end
            pos = end
        if not matches:
            return text, matches
        parts.append(text[copied:])
        return "".join(parts), matches


@functools.lru_cache(maxsize=1)
def _default_scrubber() -> PiiScrubber:
    return PiiScrubber()


def scrub_pii(text: str) -> tuple[str, list[PiiMatch]]:
    """Replace Korean PII in ``text`` with ``<TYPE>`` placeholders (all types enabled).

    Returns the scrubbed text and the matches, whose offsets index the original ``text``.
    Use :class:`PiiScrubber` (or the ``pii`` step's config) to select types or placeholders.
    """
    return _default_scrubber().scrub(text)


@register_step
@dataclasses.dataclass
class PiiConfig(StepConfig):
    """Korean PII scrubbing (``type = "pii"``); never drops a document.

    Fields:
        types: PII types to replace (default all: RRN, FRN, PHONE, EMAIL, BRN, CARD, ACCOUNT,
            IP). Rules per type: hanforge/corpus/pii_patterns.py.
        placeholders: per-type replacement overriding ``<TYPE>``, e.g.
            ``{ EMAIL = "[이메일]" }`` (default: none overridden). Keep digits out of
            placeholders, or scrubbing stops being idempotent.
    """

    step_type: ClassVar[str] = "pii"

    types: list[str] = dataclasses.field(default_factory=lambda: list(PII_TYPES))
    placeholders: dict[str, str] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        for i, t in enumerate(self.types):
            require(t in PII_TYPES, f"types[{i}]", f"unknown PII type {t!r} (known: {', '.join(PII_TYPES)})")
        for t in self.placeholders:
            require(t in PII_TYPES, f"placeholders.{t}", f"unknown PII type (known: {', '.join(PII_TYPES)})")

    def build(self) -> PiiStep:
        return PiiStep(self)


class PiiStep(DocumentStep):
    """Scrub PII from every live document; sets ``num_pii`` and ``pii_types``."""

    name: ClassVar[str] = "pii"

    def __init__(self, config: PiiConfig | None = None):
        super().__init__()
        self.config = config or PiiConfig()
        self.scrubber = PiiScrubber(types=tuple(self.config.types), placeholders=self.config.placeholders)

    def process(self, doc: Document) -> str | None:
        doc.text, matches = self.scrubber.scrub(doc.text)
        counts: dict[str, int] = {}
        for match in matches:
            counts[match.type] = counts.get(match.type, 0) + 1
        doc.metadata["num_pii"] = len(matches)
        doc.metadata["pii_types"] = sorted(counts)
        for pii_type, count in sorted(counts.items()):
            self.stat_update(f"pii/{pii_type}", value=count)
        if matches:
            self.stat_update("pii/docs_with_pii")
        return None
