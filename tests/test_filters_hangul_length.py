"""The ``hangul_ratio`` and ``length`` steps on real sample pages and constructed cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from filter_helpers import run_step
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step
from hanforge.corpus.filters.hangul import HangulRatioConfig, is_nonkorean_line
from hanforge.corpus.filters.korean_text import count_chars
from hanforge.corpus.filters.length import LengthConfig
from hanforge.errors import ConfigError

run = run_step


def page(sample_dir: Path, rel: str) -> str:
    html = (sample_dir / rel).read_text(encoding="utf-8")
    return extract_plain_text(html, main_content=True)


def test_hangul_ratio_counts_letters_only():
    counts = count_chars("한국어 ABC 123 !!! ㅋㅋ")
    assert (counts.hangul, counts.letters, counts.digits, counts.punct) == (5, 8, 3, 3)
    assert counts.hangul_ratio == pytest.approx(5 / 8)
    assert count_chars("1234 !!").hangul_ratio == 0.0


def test_korean_sample_page_kept(sample_dir):
    text = page(sample_dir, "libreoffice-help-ko/text/shared/01/05320000.html")
    doc = run(HangulRatioConfig().build(), text)
    assert doc.metadata.get("drop_reason") is None
    assert doc.metadata["lang"] == "ko"
    assert doc.metadata["hangul_ratio"] > 0.9
    # drop_nonkorean_lines is on by default: only the English-only lines went
    kept = doc.text.split("\n")
    gone = [line for line in text.split("\n") if line not in kept]
    assert gone == ["Choose Format - - Text Animation tab."]
    assert doc.metadata["num_nonkorean_lines"] == 1
    off = run(HangulRatioConfig(drop_nonkorean_lines=False).build(), text)
    assert off.text == text and "num_nonkorean_lines" not in off.metadata


def test_untranslated_sample_page_dropped(sample_dir):
    # an untranslated LibreOffice page: Korean only in a heading or two
    text = page(sample_dir, "libreoffice-help-ko/text/scalc/01/func_averageif.html")
    doc = run(HangulRatioConfig().build(), text)
    assert doc.metadata["drop_reason"] == "hangul_ratio"
    assert doc.metadata["drop_step"] == "hangul_ratio"
    assert doc.metadata["lang"] == "other"
    assert doc.metadata["hangul_ratio"] < 0.3


def test_threshold_is_configurable(sample_dir):
    text = page(sample_dir, "libreoffice-help-ko/text/scalc/01/func_second.html")  # ratio ~0.15
    whole = HangulRatioConfig(drop_nonkorean_lines=False)
    assert run(whole.build(), text).metadata["drop_reason"] == "hangul_ratio"
    doc = run(HangulRatioConfig(threshold=0.1, drop_nonkorean_lines=False).build(), text)
    assert doc.metadata.get("drop_reason") is None and doc.metadata["lang"] == "ko"


def test_mixed_page_keeps_its_korean_paragraphs():
    korean = "데비안 패키지는 dpkg 로 설치하고 apt 로 의존성을 풀어 줍니다. 저장소 목록은 sources.list 에 있습니다."
    english = (
        "This paragraph was never translated and explains the same thing in English words only, "
        "with many more letters than the Korean paragraph above it has."
    )
    text = "\n".join([korean, english, english, korean, english])
    assert count_chars(text).hangul_ratio < 0.3  # the whole page would be dropped
    doc = run(HangulRatioConfig().build(), text)
    assert doc.metadata.get("drop_reason") is None and doc.metadata["hangul_ratio"] > 0.5
    assert doc.text == "\n".join([korean, korean]) and doc.metadata["num_nonkorean_lines"] == 3
    assert run(HangulRatioConfig(drop_nonkorean_lines=False).build(), text).metadata["drop_reason"] == "hangul_ratio"


def test_nonkorean_lines_removed_mixed_lines_kept(sample_dir):
    text = page(sample_dir, "libreoffice-help-ko/text/scalc/01/func_second.html")
    english = "This function is part of the Open Document Format for Office Applications"
    assert english in text
    doc = run(HangulRatioConfig(threshold=0.1, drop_nonkorean_lines=True).build(), text)
    assert english not in doc.text
    assert "주어진 시간 값에 대한 초를 구합니다." in doc.text
    assert "=SECOND(C4)는 C4 = 12:20:17인 경우 17을 반환합니다." in doc.text
    assert "NETWORKDAYS.INTL" in doc.text  # one-word lines are never judged
    assert doc.metadata["num_nonkorean_lines"] >= 1


@pytest.mark.parametrize(
    ("line", "nonkorean"),
    [
        ("LibreOffice 문서를 엽니다", False),
        ("Choose Format - Columns - Optimal Width 를 선택합니다.", False),
        ("This function is part of the OpenDocument standard.", True),
        ("Double-click right column separator in column headers.", True),
        ("SECOND(숫자)", False),
        ("ISO/IEC 26300", False),
    ],
)
def test_nonkorean_line_rule(line, nonkorean):
    assert is_nonkorean_line(line, line_threshold=0.2, line_min_eojeols=4) is nonkorean


def test_length_sets_counts_and_keeps(sample_dir):
    text = page(sample_dir, "debian-faq-ko/basic-defs.ko.html")
    doc = run(LengthConfig().build(), text)
    assert doc.metadata.get("drop_reason") is None
    assert doc.metadata["num_chars"] == len(text)
    assert doc.metadata["num_eojeols"] == len(text.split())
    assert doc.metadata["num_lines"] == sum(1 for line in text.split("\n") if line.strip())


def test_length_drops_short_sample_page(sample_dir):
    text = page(sample_dir, "libreoffice-help-ko/text/shared/02/12100000.html")
    doc = run(LengthConfig().build(), text)
    assert len(text) < 100
    assert doc.metadata["drop_reason"] == "too_short"
    assert doc.metadata["num_chars"] == len(text)  # set on dropped documents too


def test_length_too_long_and_too_few_eojeols():
    text = "가나다라마바사아자차카타파하" * 10  # 140 characters, one eojeol
    assert run(LengthConfig().build(), text).metadata["drop_reason"] == "too_few_eojeols"
    assert run(LengthConfig(min_eojeols=1, max_chars=139).build(), text).metadata["drop_reason"] == "too_long"
    assert run(LengthConfig(min_eojeols=1, max_chars=140).build(), text).metadata.get("drop_reason") is None


def test_config_validation_names_keys():
    with pytest.raises(ConfigError, match=r"steps\[1\]: threshold"):
        parse_step({"type": "hangul_ratio", "threshold": 1.5}, where="steps[1]")
    with pytest.raises(ConfigError, match="max_chars"):
        parse_step({"type": "length", "min_chars": 500, "max_chars": 100}, where="steps[2]")
    with pytest.raises(ConfigError, match="min_chars: expected an integer"):
        parse_step({"type": "length", "min_chars": "100"}, where="steps[2]")


def test_length_judges_a_page_trimmed_of_english_lines_by_the_page():
    # LibreOffice text/scalc/01/04010100.html: 87 characters of Korean once its English menu path
    # is gone, 133 with it; the path was the page's own content, so the page is not a stub.
    korean = (
        "개행\n선택한 셀 위에 행 나누기(가로 페이지 나누기)를 삽입합니다.\n"
        "표에서 암청색의 수평 선으로 수동 개행을 식별할 수 있습니다.\n이 명령을 사용하려면..."
    )
    page = korean + "\nChoose Sheet - Insert Page Break - Row Break."
    trimmed = run(HangulRatioConfig().build(), page)
    assert trimmed.text == korean
    assert run(LengthConfig().build(), korean).metadata["drop_reason"] == "too_short"
    kept = run(LengthConfig().build(), trimmed.text, **trimmed.metadata)
    assert kept.metadata.get("drop_reason") is None and kept.metadata["num_chars"] == len(korean)
    by_rest = run(LengthConfig(min_kept_share=1.0).build(), trimmed.text, **trimmed.metadata)
    assert by_rest.metadata["drop_reason"] == "too_short"
    # A long English page with one Korean line left is judged by that line.
    english = "\n".join(["The dialog opens the settings of the selected chart axis title."] * 5)
    mostly_english = run(HangulRatioConfig().build(), english + "\n선택한 축의 속성을 수정합니다.")
    short = run(LengthConfig().build(), mostly_english.text, **mostly_english.metadata)
    assert short.metadata["drop_reason"] == "too_short"
