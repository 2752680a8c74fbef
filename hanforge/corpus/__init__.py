"""The corpus engine: ingest, decode, extract, normalize, filter, scrub PII, dedup and mix."""
