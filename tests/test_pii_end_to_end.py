"""No raw PII in any column of any shard after ``hanforge run``, kept or excluded.

Rows dropped early (at ingest, as too short, as non-Korean, as HTML with no main text) carry
PII in ``text`` and ``url``; every tested format must be gone from every string column.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote_plus

import polars as pl

from hanforge.corpus.pipeline import load_pipelines
from hanforge.corpus.runner import run_pipeline

REPO = Path(__file__).resolve().parents[1]

# One of each format the issue lists, plus the classic ones.
RAW_PII = [
    "901231-1234563",
    "901231 1234563",
    "901231\u20131234563",
    "(010)1234-5678",
    "+82 (0)10-1234-5678",
    "010\u20131234\u20135678",
    "홍길동@회사.한국",
    "4111-1111 1111-1111",
    "2101013567891",
    "4111111111111111",
    "3782 822463 10005",
    "110-123-456789",
    "1000-1234-5678",
    "010-9876-5432",
    "hong.gildong@naver.com",
    "220-81-62517",
    "211.234.10.5",
]
PII_SENTENCE = (
    "주민등록번호 901231-1234563, 다른 표기 901231 1234563 또는 901231\u20131234563. "
    "연락처 (010)1234-5678, 해외에서는 +82 (0)10-1234-5678, 또는 010\u20131234\u20135678. "
    "메일 홍길동@회사.한국 과 hong.gildong@naver.com 으로 보내 주세요. 카드 4111-1111 1111-1111, "
    "주민번호 2101013567891, 카드번호 4111111111111111, 아멕스 3782 822463 10005. "
    "입금 계좌 신한 110-123-456789 또는 토스뱅크 1000-1234-5678. 사업자 220-81-62517, 접속 IP 211.234.10.5."
)
PII_URL = "https://shop.example.kr/user/901231-1234563?email=hong.gildong%40naver.com&tel=010-9876-5432"


def _kept_text(sample_html_files) -> str:
    from datatrove.data import Document

    from hanforge.corpus.extract import ExtractStep
    from hanforge.corpus.normalize import normalize_korean

    doc = Document(text=sample_html_files[3].read_text(encoding="utf-8"), id="p", metadata={"_format": "html"})
    assert ExtractStep().process(doc) is None
    return normalize_korean(doc.text)


def test_no_raw_pii_in_any_column_of_kept_or_excluded_shards(tmp_path, sample_html_files):
    inputs = tmp_path / "in"
    inputs.mkdir()
    korean = _kept_text(sample_html_files)
    records = [
        {"text": korean + "\n\n" + PII_SENTENCE, "url": PII_URL},  # kept
        {"text": "연락처 010-9876-5432", "url": PII_URL + "&n=1"},  # too short
        {
            "text": "Contact hong.gildong@naver.com or 010-9876-5432. " * 20 + PII_SENTENCE,
            "url": "https://www.example.kr/en?card=4111-1111%201111-1111",
        },  # not Korean
        {"body": "no text field", "url": "https://x.kr/u/901231-1234563/tel/010-9876-5432"},  # ingest drop
        {"text": korean[:2000] + "\n" + PII_SENTENCE, "url": "mailto:hong.gildong@naver.com"},
    ]
    with (inputs / "docs.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    # an HTML page whose main text is empty: dropped by extract with its markup as text
    (inputs / "links.html").write_text(
        '<html><head><script>var tel="010-9876-5432"; var rrn="901231-1234563";</script></head><body>'
        '<a href="mailto:hong.gildong@naver.com"></a><a href="tel:+82 (0)10-1234-5678"></a></body></html>',
        encoding="utf-8",
    )

    cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
    cfg = cfg.merge(dict(inputs=[str(inputs)], output=str(tmp_path / "out"), tasks=1))
    summary = run_pipeline(cfg)

    rows = pl.read_parquet(tmp_path / "out" / "*" / "*.parquet")
    assert rows.height == len(records) + 1 == summary.stats["documents"]["input"]
    reasons = set(rows["drop_reason"].drop_nulls())
    assert {"too_short", "missing_text_field"} <= reasons and any(r.startswith("extract") for r in reasons), reasons
    assert rows.filter(pl.col("drop_reason").is_null()).height >= 1, "the long Korean record is kept"
    for column in rows.columns:
        if rows[column].dtype not in (pl.String, pl.Utf8):
            continue
        for value in rows[column].drop_nulls():
            for text in (value, unquote_plus(value)):
                leaked = [p for p in RAW_PII if p in text]
                assert not leaked, (column, leaked, value[:200])
    kept = rows.filter(pl.col("drop_reason").is_null()).row(0, named=True)
    assert "<RRN>" in kept["text"] and kept["num_pii"] >= len(RAW_PII) - 3
    assert kept["url"] == "https://shop.example.kr/user/%3CRRN%3E?email=%3CEMAIL%3E&tel=%3CPHONE%3E"
    pii_stats = summary.stats["pii"]
    assert pii_stats["RRN"] >= 6 and pii_stats["PHONE"] >= 8 and pii_stats["urls_scrubbed"] >= 5, pii_stats
