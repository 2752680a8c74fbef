"""The ``url_blocklist`` step: drop documents whose ``metadata["url"]`` is blocklisted.

Two kinds of entries, from ``hanforge/assets/url_blocklist.txt`` (or the user's
``blocklist_file``) plus the inline ``domains`` / ``url_substrings`` lists:

- domains, matched as a suffix of the URL's host on label boundaries: ``example.com`` blocks
  ``example.com`` and ``www.example.com`` but not ``badexample.com``. The check looks up each
  suffix of the host in a set, so it costs a few set lookups per document for any list size.
- URL substrings, matched case-insensitively anywhere in the URL (one pyahocorasick automaton).

Documents without a URL (local files, plain-text corpora) pass. An unparseable URL is not
blocked by domain but still checked by substring. Written here instead of using datatrove's
``URLFilter`` because that one downloads its UT1 list from the Hugging Face hub at run time and
has no per-deployment domain file.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar
from urllib.parse import urlsplit

import ahocorasick
from datatrove.data import Document

from hanforge.config import StepConfig, register_step
from hanforge.corpus.filters.term_files import read_sections, resolve_term_file
from hanforge.corpus.steps import DocumentStep


@register_step
@dataclasses.dataclass(frozen=True)
class UrlBlocklistConfig(StepConfig):
    """Domain / URL-substring blocklist (``type = "url_blocklist"``).

    Fields:
        blocklist_file: file with ``[domains]`` and ``[url_substrings]`` sections. Default None:
            the built-in ``hanforge/assets/url_blocklist.txt``.
        domains: more blocked domains (suffix match on the host). Default [].
        url_substrings: more blocked URL substrings (case-insensitive). Default [].
    """

    step_type: ClassVar[str] = "url_blocklist"

    blocklist_file: str | None = None
    domains: list[str] = dataclasses.field(default_factory=list)
    url_substrings: list[str] = dataclasses.field(default_factory=list)

    def validate(self) -> None:
        resolve_term_file(self.blocklist_file, default="url_blocklist.txt", key="blocklist_file")

    def build(self) -> UrlBlocklistFilter:
        return UrlBlocklistFilter(self)


def url_host(url: str) -> str | None:
    """The lower-cased host of ``url`` without a trailing dot, or None if it has none."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


class UrlBlocklistFilter(DocumentStep):
    """Drops ``url_blocklist`` (with ``:domain`` or ``:substring`` detail) for blocked URLs."""

    name = "url_blocklist"

    def __init__(self, config: UrlBlocklistConfig):
        super().__init__(config)
        path = resolve_term_file(config.blocklist_file, default="url_blocklist.txt", key="blocklist_file")
        sections = read_sections(path, sections=("domains", "url_substrings"))
        self.domains = {
            d.lower().strip().lstrip(".").rstrip(".") for d in [*sections["domains"], *config.domains] if d.strip()
        }
        entries = [*sections["url_substrings"], *config.url_substrings]
        substrings = list(dict.fromkeys(s.lower() for s in entries if s))
        self.automaton = ahocorasick.Automaton()
        for i, s in enumerate(substrings):
            self.automaton.add_word(s, i)
        self.has_substrings = bool(substrings)
        if substrings:
            self.automaton.make_automaton()

    def blocked_domain(self, host: str) -> bool:
        """Whether ``host`` or one of its parent domains is blocklisted."""
        labels = host.split(".")
        return any(".".join(labels[i:]) in self.domains for i in range(len(labels)))

    def process(self, doc: Document) -> str | None:
        url = doc.metadata.get("url")
        if not url:
            return None
        host = url_host(url)
        if host is not None and self.blocked_domain(host):
            return "url_blocklist:domain"
        if self.has_substrings:
            for _ in self.automaton.iter(url.lower()):
                return "url_blocklist:substring"
        return None
