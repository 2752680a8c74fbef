"""The ``quality`` step: every rule drops its own case and keeps clean Korean text."""

from __future__ import annotations

from pathlib import Path

import pytest
from datatrove.data import Document
from filter_helpers import CLEAN_NEWS, run_step
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step
from hanforge.corpus.filters.quality import QualityConfig, count_endings, ends_sentence, korean_ending
from hanforge.errors import ConfigError

CLEAN = CLEAN_NEWS


def run(text: str, **config) -> Document:
    return run_step(QualityConfig(**config).build(), text)


def reason(text: str, **config) -> str | None:
    return run(text, **config).metadata.get("drop_reason")


def test_clean_text_kept_with_signals():
    doc = run(CLEAN)
    assert doc.metadata.get("drop_reason") is None
    words = CLEAN.split()
    assert doc.metadata["avg_eojeol_len"] == pytest.approx(sum(map(len, words)) / len(words))
    # "." and "%" are Unicode punctuation (Po)
    assert doc.metadata["punct_ratio"] == pytest.approx((CLEAN.count(".") + CLEAN.count("%")) / len(CLEAN))
    assert doc.metadata["digit_ratio"] == pytest.approx(3 / len(CLEAN))
    assert doc.metadata["symbol_ratio"] == 0.0


def test_korean_sample_pages_kept(sample_dir: Path):
    for rel in ("debian-faq-ko/basic-defs.ko.html", "libreoffice-help-ko/text/shared/01/05320000.html"):
        text = extract_plain_text((sample_dir / rel).read_text(encoding="utf-8"), main_content=True)
        doc = run(text)
        assert doc.metadata.get("drop_reason") is None, rel
        assert 3.0 < doc.metadata["avg_eojeol_len"] < 6.0


HASHTAGS = " ".join(f"#서울맛집추천{i}" for i in range(40))
ELLIPSIS_LINE = "그날은… 정말… 추웠다… 하지만… 우리는… 걸었다."

CASES = {
    "avg_eojeol_len_low": "아 네 예 응 음 참 또 왜 뭐 좀 " * 10,
    "avg_eojeol_len_high": CLEAN + "\n" + " ".join(["aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZGF0YQ=="] * 40),
    "punct_ratio": CLEAN + "\n" + " ".join(["!!!!!!!!!!"] * 8),
    "symbol_ratio": CLEAN + "\n" + " ".join(["★★★★★"] * 16),
    "digit_ratio": CLEAN + "\n" + " ".join(["20240105"] * 25),
    "line_punct_ratio": "\n".join(
        ["정부 예산안 국회 제출", "서울 아파트값 상승세 지속", "프로야구 개막전 매진 행렬", "신형 스마트폰 공개 임박"]
        * 5
    ),
    "bullet_lines": "\n".join(f"• {line}" for line in CLEAN.split("\n")),
    "ellipsis_lines": "\n".join(line.rstrip(".") + "..." for line in CLEAN.split("\n")),
    "hash_ratio": CLEAN + "\n" + HASHTAGS,
    "ellipsis_ratio": CLEAN + "\n" + "\n".join([ELLIPSIS_LINE] * 4),
    "alpha_eojeol_ratio": CLEAN + "\n" + " ".join(str(i % 10) for i in range(25)),
    "stop_endings": "\n".join(["서울 맛집 강남 맛집 홍대 카페 추천 데이트 코스 정리."] * 4),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_drops_its_case(rule):
    doc = run(CASES[rule])
    assert doc.metadata["drop_reason"] == rule
    assert doc.metadata["drop_step"] == "quality"
    assert "avg_eojeol_len" in doc.metadata  # signals are stored on dropped documents too


SWITCH_OFF = {
    "avg_eojeol_len_low": {"min_avg_eojeol_len": 0.0},
    "avg_eojeol_len_high": {"max_avg_eojeol_len": 100.0},
    "punct_ratio": {"max_punct_ratio": 1.0},
    "symbol_ratio": {"max_symbol_ratio": 1.0},
    "digit_ratio": {"max_digit_ratio": 1.0},
    "line_punct_ratio": {"min_line_punct_ratio": 0.0},
    "bullet_lines": {"max_bullet_lines_ratio": 1.0},
    "ellipsis_lines": {"max_ellipsis_lines_ratio": 1.0},
    "hash_ratio": {"max_hash_ratio": 1.0},
    "ellipsis_ratio": {"max_ellipsis_ratio": 1.0},
    "alpha_eojeol_ratio": {"min_alpha_eojeol_ratio": 0.0},
    "stop_endings": {"min_stop_endings": 0},
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_is_what_dropped(rule):
    """With the rule's threshold relaxed, its case is no longer dropped for that rule."""
    assert reason(CASES[rule], **SWITCH_OFF[rule]) != rule


def test_one_ellipsis_line_is_no_pattern():
    # A LibreOffice help stub (text/scalc/01/04010100.html without its heading and English menu
    # path): one of its three lines ends in "..." ("To use this command..."): 0.33 > 0.3.
    stub = (
        "선택한 셀 위에 행 나누기(가로 페이지 나누기)를 삽입합니다.\n"
        "표에서 암청색의 수평 선으로 수동 개행을 식별할 수 있습니다.\n이 명령을 사용하려면..."
    )
    checks_off = dict(min_stop_endings=0, min_alpha_eojeol_ratio=0.0)
    assert reason(stub, **checks_off) is None
    assert reason(stub + "\n다음 단계...", **checks_off) == "ellipsis_lines"  # two of four lines: a pattern
    assert reason(stub, min_ellipsis_lines=1, **checks_off) == "ellipsis_lines"


def test_line_too_long():
    assert reason(CLEAN, max_line_chars=50) == "line_too_long"
    assert reason(CLEAN, max_line_chars=200) is None


@pytest.mark.parametrize(
    ("eojeol", "ending"),
    [
        ("한국은행이", "이"),
        ("기준금리를", "를"),
        ("판단했다.", "다"),
        ("간담회에서", "에서"),
        ("있습니다", "습니다"),
        ('"좋아요"', "요"),
        ("이", None),  # a lone particle-like syllable has no stem
        ("서울", None),
        ("LibreOffice", None),
    ],
)
def test_korean_ending(eojeol, ending):
    assert korean_ending(eojeol) == ending


def test_count_endings_stops_early():
    assert count_endings("한국은행이 기준금리를 동결했다".split(), at_most=2) == 2
    assert count_endings("서울 맛집 카페".split(), at_most=2) == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [("동결했다.", True), ("정말 좋았어요", True), ("무엇인가요?", True), ('"그렇다"', True), ("예산안 제출", False)],
)
def test_ends_sentence(line, expected):
    assert ends_sentence(line) is expected


def test_config_validation():
    with pytest.raises(ConfigError, match="max_avg_eojeol_len"):
        parse_step({"type": "quality", "min_avg_eojeol_len": 5, "max_avg_eojeol_len": 4}, where="s")
    with pytest.raises(ConfigError, match="max_punct_ratio"):
        parse_step({"type": "quality", "max_punct_ratio": -0.1}, where="s")
