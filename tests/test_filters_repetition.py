"""The ``repetition`` step: Gopher semantics on eojeols with FineWeb-2 Korean thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_all_duplicate,
    find_duplicates,
    find_top_duplicate,
    get_n_grams,
)
from filter_helpers import CLEAN_NEWS, run_step
from hypothesis import given, settings
from hypothesis import strategies as st
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step
from hanforge.corpus.filters.repetition import EojeolNgrams, RepetitionConfig, duplicates
from hanforge.errors import ConfigError

CLEAN = CLEAN_NEWS


def run(text: str, **config) -> Document:
    return run_step(RepetitionConfig(**config).build(), text)


def reason(text: str, **config) -> str | None:
    return run(text, **config).metadata.get("drop_reason")


eojeol_lists = st.lists(st.sampled_from(["가", "나다", "라마바", "사", "아자", "차카타파", "하"]), max_size=60)


@settings(max_examples=150, deadline=None)
@given(eojeol_lists)
def test_ngram_measures_match_datatrove_reference(words):
    grams = EojeolNgrams.of(words)
    for n in (2, 3, 4):
        expected = find_top_duplicate(get_n_grams(words, n)) if len(words) >= n else 0
        assert grams.top_ngram_chars(n) == expected
    for n in range(5, 11):
        # datatrove keys n-grams by "".join, so two different n-grams that concatenate to the
        # same string count as repeats there; tuple keys do not. Equal whenever no such
        # collision occurs (checked against the same greedy walk keyed by tuples).
        assert grams.dup_ngram_chars(n) == greedy_dup_chars(words, n)
        if not joined_collision(words, n):
            assert grams.dup_ngram_chars(n) == find_all_duplicate(words, n)


def joined_collision(words: list[str], n: int) -> bool:
    grams = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    return len({"".join(g) for g in grams}) < len(grams)


def greedy_dup_chars(words: list[str], n: int) -> int:
    seen, total, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = tuple(words[idx : idx + n])
        if gram in seen:
            total += sum(map(len, gram))
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return total


def test_line_duplicates_match_datatrove():
    lines = ["가", "나", "가", "다", "가", "나"]
    assert duplicates(lines) == find_duplicates(lines) == (3, 3)


def test_clean_korean_text_kept_with_signals():
    doc = run(CLEAN)
    assert doc.metadata.get("drop_reason") is None
    assert doc.metadata["dup_line_frac"] == 0.0
    assert doc.metadata["dup_ngram_char_frac"] == 0.0
    assert 0 < doc.metadata["top_ngram_char_frac"] < 0.1


def test_sample_page_signals(sample_dir: Path):
    html = (sample_dir / "debian-faq-ko/basic-defs.ko.html").read_text(encoding="utf-8")
    text = extract_plain_text(html, main_content=True)
    doc = run(text)
    assert doc.metadata.get("drop_reason") is None
    for key in ("dup_line_frac", "dup_line_char_frac", "top_ngram_char_frac", "dup_ngram_char_frac"):
        assert 0.0 <= doc.metadata[key] <= 1.0
    # the table of contents repeats each question as a heading further down
    assert doc.metadata["dup_line_frac"] > 0


def test_dup_line_frac():
    repeated = "오늘의 특가 상품을 확인하세요 지금 바로 주문하면 무료 배송"
    lines = CLEAN.split("\n") + [repeated] * 4
    text = "\n".join(lines)
    assert reason(text) == "dup_line_frac"  # 3 of 7 lines repeat: 0.43 > 0.374
    assert run(text).metadata["dup_line_frac"] == pytest.approx(3 / 7)
    others_off = dict(top_ngrams={}, dup_ngrams={}, char_dup_ratio=None)
    assert reason(text, **others_off) == "dup_line_frac"
    assert reason(text, dup_line_frac=0.5, **others_off) is None


def test_top_2gram():
    spam = " ".join(["바카라 사이트"] * 30) + "\n" + CLEAN
    assert reason(spam, dup_line_frac=None) == "top_2gram"


def test_top_ngram_seen_once_repeats_nothing():
    # A LibreOffice help stub (text/smath/01/03090908.html): no 4-gram occurs twice, yet its first
    # 4-gram is 0.194 of the 108 characters, over FineWeb-2's 0.185.
    stub = (
        "근\n이 메뉴에서는 LibreOffice Math를 사용하여 근을 작성하는 방법에 대한 예를 볼 수 있습니다. "
        "예 구문을 작업에 적용하려면, 클립보드를 통해 이 구문을 명령창으로 복사하면 됩니다."
    )
    assert run(stub).metadata["top_ngram_char_frac"] > 0.185
    assert reason(stub) is None
    assert reason(stub, min_top_ngram_count=1) == "top_4gram"  # datatrove's count
    twice = stub + "\n" + " ".join(stub.split()[1:5])  # the same 4-gram once more: a repeat
    assert reason(twice, dup_ngrams={}, char_dup_ratio=None) in ("top_3gram", "top_4gram")


def test_dup_5gram():
    phrase = "우리 회사는 고객 만족을 최우선으로 생각합니다"  # 6 eojeols
    text = CLEAN + " " + " ".join([phrase, "그리고"] * 6)
    assert reason(text, top_ngrams={}) == "dup_5gram"
    assert reason(text, top_ngrams={}, dup_ngrams={"5": 0.9, "6": 0.9}) is None


def test_char_dup_ratio_and_new_line_ratio():
    footer = "고객센터 1588-0000 평일 09:00-18:00"
    text = CLEAN + "\n" + footer + "\n" + footer
    ngrams_off = dict(top_ngrams={}, dup_ngrams={})  # the repeated footer is also a top 4-gram
    assert reason(text) == "top_4gram"
    assert reason(text, **ngrams_off) == "char_dup_ratio"
    assert reason(text, char_dup_ratio=0.2, **ngrams_off) is None
    listing = "\n".join(f"상품 {i}번" for i in range(40))  # 2 eojeols per line
    assert reason(listing, top_ngrams={}, dup_ngrams={}) == "new_line_ratio"
    assert reason(listing, top_ngrams={}, dup_ngrams={}, new_line_ratio=None) is None


def test_paragraph_rules_off_by_default_and_switchable():
    para = "같은 문단이 두 번 나옵니다. 이것은 테스트 문장입니다."
    text = CLEAN + "\n\n" + para + "\n\n" + para
    kwargs = dict(dup_line_frac=None, top_ngrams={}, dup_ngrams={}, char_dup_ratio=None)
    assert reason(text, **kwargs) is None
    assert reason(text, dup_para_frac=0.3, **kwargs) == "dup_para_frac"


def test_empty_text_dropped():
    assert reason("  \n ") == "empty"


def test_config_from_toml_table():
    cfg = parse_step({"type": "repetition", "top_ngrams": {"2": 0.5}, "dup_line_frac": 1.0}, where="s")
    assert cfg.top_ngrams == {"2": 0.5}
    with pytest.raises(ConfigError, match=r"top_ngrams\.x"):
        parse_step({"type": "repetition", "top_ngrams": {"x": 0.5}}, where="s")
    with pytest.raises(ConfigError, match="dup_line_frac"):
        parse_step({"type": "repetition", "dup_line_frac": 2}, where="s")
