"""Korean PII scrubbing: the ``pii`` step, :func:`scrub_pii` and :meth:`PiiScrubber.scrub_url`.

Replaces resident/foreigner registration numbers, phone numbers, e-mail addresses, business
registration numbers, card numbers, bank accounts and public IP addresses with placeholders
(``<RRN>``, ``<FRN>``, ``<PHONE>``, ``<EMAIL>``, ``<BRN>``, ``<CARD>``, ``<ACCOUNT>``, ``<IP>``).
The patterns, validators and the exact rules (what counts, what is deliberately left alone)
are in :mod:`hanforge.corpus.pii_patterns`.

Written here rather than taken from a library: datatrove's ``PIIFormatter`` does e-mails and
public IPs only (and reads versions like ``7.4.1.2`` as IPs), and Presidio's Korean
recognizers (RRN, FRN, BRN, ...) run inside an analyzer engine that loads spaCy and an NLP
model per process. The scan is one combined regex for the numeric
kinds (plus an e-mail scan when the text has an ``@``); where the highest-priority kind at a
position fails its validator (a bad check digit, an invalid date), the lower-priority kinds are
tried at the same position before the scan moves on. Time is linear in the text and in the
number of matches (``bench/pii_scaling.py``).

Offsets in :class:`PiiMatch` index the text that was passed in. Scrubbing is idempotent with
the default placeholders: context rules look at the already scrubbed text on the left, and
placeholders contain no digits.

Where it applies: the step scrubs *every* document that reaches it, kept or already dropped
by an earlier step (excluded shards are data too: they hold the text as it was when dropped,
raw markup for pages dropped by ``extract``), and the ``url`` column (kept a valid URL) and the
provenance columns (``PROVENANCE_KEYS``, where a reader sets them) as well as ``text``.
So with the step anywhere in a pipeline, no row reaches a shard unscrubbed. It sets
``num_pii`` and ``pii_types`` (sorted distinct types, text and URL together) and counts
``pii/<TYPE>`` (replacements), ``pii/docs_with_pii`` and ``pii/urls_scrubbed`` in the stats
(``stats.json`` → ``pii``). It never drops a document unless scrubbing itself fails.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import ClassVar
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

from datatrove.data import Document, DocumentsPipeline
from loguru import logger

from hanforge.config import StepConfig, register_step, require
from hanforge.corpus import pii_patterns as pp
from hanforge.corpus.steps import DocumentStep, is_dropped

#: Metadata keys naming where a row came from (an input path, the record's own id), scrubbed as
#: plain text where present: a file named after a phone number must not leak through them.
PROVENANCE_KEYS: tuple[str, ...] = ("path", "input_id")

#: Every PII type, in the order the docs list them.
PII_TYPES: tuple[str, ...] = ("RRN", "FRN", "PHONE", "EMAIL", "BRN", "CARD", "ACCOUNT", "IP")


@dataclasses.dataclass(frozen=True)
class PiiMatch:
    """One PII span: its type and ``[start, end)`` offsets into the original text."""

    type: str
    start: int
    end: int


def _tail(parts: list[str], n: int) -> str:
    """The last ``n`` characters of ``"".join(parts)``, reading only the last few parts."""
    tail: list[str] = []
    size = 0
    for part in reversed(parts):
        tail.append(part)
        size += len(part)
        if size >= n:
            break
    return "".join(reversed(tail))[-n:] if n > 0 else ""


def _classify(kind: str, candidate: str, left: str, right: str) -> str | None:
    """The PII type of a regex candidate of ``kind``, or None if its validator rejects it
    (``left``: the scrubbed text before it; ``right``: the text after it)."""
    if kind == "rrn":
        return pp.registration_kind(candidate, left)
    if kind == "card":
        return "CARD" if pp.card_valid(candidate) else None
    if kind == "brn":
        return "BRN" if pp.brn_valid(candidate) else None
    if kind == "phone":
        return "PHONE"
    if kind == "account":
        ok = pp.account_shape_valid(candidate) and (
            pp.ACCOUNT_KEYWORDS.search(left[-pp.ACCOUNT_CONTEXT_CHARS :])
            or pp.ACCOUNT_KEYWORDS.search(right[: pp.ACCOUNT_RIGHT_CONTEXT_CHARS])
        )
        return "ACCOUNT" if ok else None
    if kind == "service":
        return "PHONE" if pp.PHONE_KEYWORDS.search(left[-pp.PHONE_CONTEXT_CHARS :]) else None
    if kind == "card_bare":
        ok = pp.card_valid(candidate) and pp.CARD_KEYWORDS.search(left[-pp.BARE_CONTEXT_CHARS :])
        return "CARD" if ok else None
    if kind == "account_bare":
        return "ACCOUNT" if pp.bare_account_valid(candidate, left) else None
    if kind == "ipv4":
        return "IP" if pp.ipv4_valid(candidate, left[-pp.VERSION_CONTEXT_CHARS :], right[:1]) else None
    if kind == "ipv6":
        return "IP" if pp.ipv6_valid(candidate) else None
    raise AssertionError(f"unknown pattern kind {kind}")


_CONTEXT_CHARS = max(pp.PHONE_CONTEXT_CHARS, pp.ACCOUNT_CONTEXT_CHARS, pp.VERSION_CONTEXT_CHARS, pp.BARE_CONTEXT_CHARS)


class PiiScrubber:
    """Detect and replace PII; ``types`` selects what is replaced, ``placeholders`` overrides
    ``<TYPE>`` per type. Disabled types are still detected (so their digits are never re-read
    as another type) but left in place and not reported."""

    def __init__(self, *, types: tuple[str, ...] = PII_TYPES, placeholders: dict[str, str] | None = None):
        self.types = frozenset(types)
        self.placeholders = {t: f"<{t}>" for t in PII_TYPES} | dict(placeholders or {})

    @staticmethod
    def _match_at(text: str, m, left: str) -> tuple[str, int] | None:
        """(type, end) of the first kind that validates at ``m.start()``, else None."""
        kind = m.lastgroup  # the kind's group encloses its inner groups, so it closes last
        found = _classify(kind, m.group(kind), left, text[m.end() : m.end() + pp.ACCOUNT_RIGHT_CONTEXT_CHARS])
        if found is not None:
            return found, m.end(kind)
        start = m.start()
        for other in pp.KINDS[pp.KINDS.index(kind) + 1 :]:
            om = pp.SINGLE[other].match(text, start)
            if om is not None:
                found = _classify(other, om.group(), left, text[om.end() : om.end() + pp.ACCOUNT_RIGHT_CONTEXT_CHARS])
                if found is not None:
                    return found, om.end()
        return None

    def scrub(self, text: str) -> tuple[str, list[PiiMatch]]:
        """Return ``(scrubbed_text, matches)``; offsets index ``text``.

        A replacement can expose a new match beside its placeholder (``2001:4860::10010-1234-5678a@b.co``:
        once the e-mail is replaced, ``2001:4860::`` is a valid IPv6 address), so a text that had
        matches is scanned once more, and again while that finds new ones (in practice never a
        third time); later matches are mapped back to ``text``'s offsets in one merge. That
        makes scrubbing idempotent, and each pass is linear in the text and its matches.
        """
        scrubbed, matches = self._scrub_once(text)
        while matches:
            again, more = self._scrub_once(scrubbed)
            if not more:
                break
            matches = self._merge(matches, more)
            scrubbed = again
        return scrubbed, matches

    def _merge(self, earlier: list[PiiMatch], later: list[PiiMatch]) -> list[PiiMatch]:
        """``earlier`` (offsets in the original) and ``later`` (offsets in the text scrubbed of
        ``earlier``) as one sorted list with original offsets; one pass over both."""
        merged: list[PiiMatch] = []
        i = 0
        shift = 0  # scrubbed offset - original offset, before the current position
        for match in later:
            while i < len(earlier) and earlier[i].start + shift < match.start:
                m = earlier[i]
                merged.append(m)
                shift += len(self.placeholders[m.type]) - (m.end - m.start)
                i += 1
            merged.append(PiiMatch(match.type, match.start - shift, match.end - shift))
        merged.extend(earlier[i:])
        return merged

    def _scrub_once(self, text: str) -> tuple[str, list[PiiMatch]]:
        parts: list[str] = []
        matches: list[PiiMatch] = []
        copied = 0  # text[:copied] is already in parts
        pos = 0
        emails = pp.email_spans(text) if "@" in text else []
        next_email = 0
        while True:
            m = pp.COMBINED.search(text, pos)
            while next_email < len(emails) and emails[next_email][0] < pos:
                next_email += 1  # inside a span already taken
            email = emails[next_email] if next_email < len(emails) else None
            if email is not None and (m is None or email[0] <= m.start()):
                (start, end), pii_type = email, "EMAIL"
                next_email += 1
            elif m is not None:
                start = m.start()
                # the left context as scrubbed so far: the unreplaced gap plus the tail of parts
                gap = text[max(copied, start - _CONTEXT_CHARS) : start]
                left = _tail(parts, _CONTEXT_CHARS - len(gap)) + gap if len(gap) < _CONTEXT_CHARS else gap
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

    def scrub_url(self, url: str) -> tuple[str, list[PiiMatch]]:
        """Scrub a URL and keep it a URL: path segments, query parameters and the fragment are
        percent-decoded and scrubbed one by one (the name gives context: ``account=...``), and
        only a piece that held PII is re-encoded, placeholder included (``%3CEMAIL%3E``).
        The scheme and host stay (a server's name or address is not a person's), user info is
        scrubbed like a path segment. Matches carry no offsets into ``url`` (start = end = 0)."""
        try:
            parts = urlsplit(url)
        except ValueError:  # not a URL (bad IPv6 brackets, ...): scrub it as text
            return self.scrub(url)
        found: list[PiiMatch] = []

        def piece(raw: str, *, plus: bool, safe: str) -> str:
            decoded = unquote_plus(raw) if plus else unquote(raw)
            scrubbed, matches = self.scrub(decoded)
            if not matches:
                return raw
            found.extend(PiiMatch(m.type, 0, 0) for m in matches)
            # errors="replace": a lone surrogate (unencodable) must not fail the whole document
            if plus:
                return quote_plus(scrubbed, safe=safe, errors="replace")
            return quote(scrubbed, safe=safe, errors="replace")

        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = piece(userinfo, plus=False, safe=":") + "@" + host
        path = "/".join(piece(seg, plus=False, safe=":@!$&'()*+,;=") for seg in parts.path.split("/"))
        query = "&".join(piece(p, plus=True, safe="=:@!$'()*,;/?") for p in parts.query.split("&"))
        fragment = piece(parts.fragment, plus=False, safe="=:@!$&'()*+,;/?")
        if not found:
            return url, []
        return urlunsplit((parts.scheme, netloc, path, query, fragment)), found


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
@dataclasses.dataclass(frozen=True)
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
    """Scrub PII from every document that passes, kept or already dropped: ``text``, ``url`` and
    the provenance keys.

    Dropped documents are data too (they are written to the excluded shards), so an earlier
    drop never lets raw PII through: wherever this step sits, every row the writer receives
    after it has been scrubbed. Sets ``num_pii`` and ``pii_types`` (text and URL together);
    stats count ``pii/<TYPE>`` for every replacement, ``pii/docs_with_pii`` and
    ``pii/urls_scrubbed``. If scrubbing a document fails, its text and URL are blanked rather
    than written raw (counted as ``pii/scrub_error``; a live document is dropped too).
    """

    name: ClassVar[str] = "pii"

    def __init__(self, config: PiiConfig | None = None):
        super().__init__(config or PiiConfig())
        self.scrubber = PiiScrubber(types=tuple(self.config.types), placeholders=self.config.placeholders)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        return super().run(self._scrub_dropped(data), rank, world_size)

    def _scrub_dropped(self, data: DocumentsPipeline) -> DocumentsPipeline:
        """Scrub the documents earlier steps dropped (the base class passes them on untouched)."""
        for doc in data:
            if is_dropped(doc):
                self.stat_update("dropped_docs_scrubbed")
                with self.track_time():
                    try:
                        self.scrub_document(doc)
                    except Exception as exc:  # never write what could not be scrubbed  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
                        logger.warning(f"pii: {type(exc).__name__} on dropped document {doc.id}: {exc}")
                        self._blank(doc)
            yield doc

    def process(self, doc: Document) -> str | None:
        try:
            self.scrub_document(doc)
        except Exception as exc:  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
            logger.warning(f"pii: {type(exc).__name__} on document {doc.id}: {exc}")
            self._blank(doc)
            return f"error:{type(exc).__name__}"
        return None

    def _blank(self, doc: Document) -> None:
        doc.text = ""
        if doc.metadata.get("url"):
            doc.metadata["url"] = ""
        self.stat_update("pii/scrub_error")

    def scrub_document(self, doc: Document) -> None:
        """Scrub ``doc.text``, ``doc.metadata["url"]`` and the provenance keys in place and record
        what was replaced."""
        doc.text, matches = self.scrubber.scrub(doc.text or "")
        url = doc.metadata.get("url")
        if isinstance(url, str) and url:
            doc.metadata["url"], url_matches = self.scrubber.scrub_url(url)
            if url_matches:
                matches = [*matches, *url_matches]
                self.stat_update("pii/urls_scrubbed")
        for key in PROVENANCE_KEYS:
            value = doc.metadata.get(key)
            if isinstance(value, str) and value:
                doc.metadata[key], found = self.scrubber.scrub(value)
                matches = [*matches, *found]
        counts: dict[str, int] = {}
        for match in matches:
            counts[match.type] = counts.get(match.type, 0) + 1
        doc.metadata["num_pii"] = len(matches)
        doc.metadata["pii_types"] = sorted(counts)
        for pii_type, count in sorted(counts.items()):
            self.stat_update(f"pii/{pii_type}", value=count)
        if matches:
            self.stat_update("pii/docs_with_pii")
