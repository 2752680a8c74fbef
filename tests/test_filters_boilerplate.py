"""The ``boilerplate`` step: Korean footer/widget/byline lines removed, real sentences kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from filter_helpers import run_step
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step
from hanforge.corpus.filters.boilerplate import BoilerplateConfig
from hanforge.errors import ConfigError

NEWS_PAGE = """홈 > 뉴스 > 경제
공유하기 카카오톡 페이스북 트위터 URL복사
(서울=연합뉴스) 홍길동 기자 = 한국은행이 기준금리를 연 3.50%로 동결했다.
한은 금융통화위원회는 11일 통화정책방향 회의를 열고 이같이 결정했다고 밝혔다.

이창용 총재는 기자간담회에서 "물가 경로를 더 지켜봐야 한다"고 말했다.
한편 이날 회의에 참석한 김영희 기자는 질문을 하지 못했다.
홍길동 기자 hong@yna.co.kr
<저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지>
좋아요 구독 알림설정
이전글 정부, 부동산 대책 발표
로그인 | 회원가입"""

NEWS_ARTICLE = """한국은행이 기준금리를 연 3.50%로 동결했다.
한은 금융통화위원회는 11일 통화정책방향 회의를 열고 이같이 결정했다고 밝혔다.

이창용 총재는 기자간담회에서 "물가 경로를 더 지켜봐야 한다"고 말했다.
한편 이날 회의에 참석한 김영희 기자는 질문을 하지 못했다."""


run = run_step


@pytest.fixture(scope="module")
def remover():
    return BoilerplateConfig().build()


def test_news_page_keeps_exactly_the_article(remover):
    doc = run(remover, NEWS_PAGE)
    assert doc.text == NEWS_ARTICLE
    assert doc.metadata["num_boilerplate_lines"] == 7  # the dateline is cut, not counted as a line
    assert doc.metadata.get("drop_reason") is None
    assert remover.stats["boilerplate/dateline"].total == 1


@pytest.mark.parametrize(
    "line",
    [
        "무단전재 및 재배포 금지",
        "무단 전재-재배포 금지",
        "ⓒ 한국경제신문, 무단전재 및 재배포 금지",
        "저작권자 © 머니투데이 무단전재 및 재배포금지",
        "Copyright © 2024 Example Corp. All rights reserved.",
        "김철수 기자 kim@example.com",
        "이영희 특파원",
        "기자 이메일: lee@news.example.kr",
        "입력 2024.03.05 10:21",
        "뉴스레터 구독",
        "구독하기",
        "이전글 서울시, 새 교통 정책 발표",
        "다음 기사",
        "목록으로",
        "많이 본 뉴스",
        "이 기사를 공유하기",
        "URL이 복사되었습니다.",
        "홈 > 사회",
        "뉴스 | 스포츠 | 연예 | 라이프",
        "정치 · 경제 · 사회 · 문화",
        "카카오톡 공유 페이스북 밴드",
        "로그인 회원가입",
        "맨 위로",
    ],
)
def test_boilerplate_lines(remover, line):
    assert remover.is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "정부는 5일 홍길동 기자와의 인터뷰에서 새 정책을 설명했다.",
        "이 기자는 구독자 수가 크게 늘었다고 말했다.",
        "무단 전재와 재배포를 금지하는 조항은 저작권법 제136조에 따라 처벌받을 수 있으며, 실제로 지난해 "
        "여러 언론사가 이를 근거로 소송을 제기했다. 법원은 대부분의 사건에서 언론사의 손을 들어주었고, "
        "배상액도 점차 커지는 추세다. 전문가들은 인공지능 학습을 둘러싼 분쟁도 늘어날 것으로 본다.",
        "목록",  # a heading in LibreOffice help, not a button
        "정치·경제·사회",
        "서식 - 문자 - 위치",
        "vOut = vA > vB Or vB > vC ' -1",
        "' Item C > Item C.1 > Item C.1.1",
        "+/-",
        "도구 > 옵션을 선택합니다.",
    ],
)
def test_real_lines_kept(remover, line):
    assert not remover.is_boilerplate(line)


def test_dateline_only_line_removed_and_counted(remover):
    doc = run(remover, "[서울=뉴스1] 김민수 기자 =\n정부가 내년 예산안을 확정했다.")
    assert doc.text == "정부가 내년 예산안을 확정했다."
    assert doc.metadata["num_boilerplate_lines"] == 1


def test_boilerplate_only_page_dropped(remover):
    doc = run(remover, "공유하기\n무단전재 및 재배포 금지\n\n로그인 | 회원가입")
    assert doc.metadata["drop_reason"] == "boilerplate_only"
    assert doc.metadata["drop_step"] == "boilerplate"
    assert doc.metadata["num_boilerplate_lines"] == 3


def test_clean_text_untouched(remover):
    text = "  첫 줄입니다.\n\n\n둘째 줄입니다.  "
    doc = run(remover, text)
    assert doc.text == text
    assert doc.metadata["num_boilerplate_lines"] == 0


def test_sample_pages_only_navigation_removed(sample_html_files: list[Path]):
    """On the 145 real pages, the only lines rules 1-3 remove are the Debian FAQ's "이전 다음" nav
    bars (rule 4, repeated titles, is off here and tested below)."""
    remover = BoilerplateConfig(drop_repeated_titles=False).build()
    removed_lines: set[str] = set()
    total = expected = 0
    for path in sample_html_files:
        text = extract_plain_text(path.read_text(encoding="utf-8"), main_content=True)
        doc = run(remover, text)
        assert doc.metadata.get("drop_reason") is None
        kept = {line.strip() for line in doc.text.split("\n")}
        for line in text.split("\n"):
            if line.strip() and line.strip() not in kept:
                removed_lines.add(" ".join(line.split()))
        total += doc.metadata["num_boilerplate_lines"]
        expected += sum(1 for line in text.split("\n") if line.split() == ["이전", "다음"])
    assert removed_lines == {"이전 다음"}
    assert total == expected > 0


def test_custom_pattern_file_and_extra_patterns(tmp_path):
    patterns = tmp_path / "bp.txt"
    patterns.write_text("[line_patterns]\n광고 문의.*\n[widget_words]\n퍼가기\n인쇄\n", encoding="utf-8")
    step = BoilerplateConfig(patterns_file=str(patterns), extra_line_patterns=["끝"]).build()
    doc = run(step, "광고 문의 02-123-4567\n본문입니다.\n퍼가기 인쇄\n끝\n무단전재 및 재배포 금지")
    # the built-in list is replaced, so the copyright footer stays
    assert doc.text == "본문입니다.\n무단전재 및 재배포 금지"


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="patterns_file"):
        parse_step({"type": "boilerplate", "patterns_file": str(tmp_path / "missing.txt")}, where="steps[0]")
    with pytest.raises(ConfigError, match=r"extra_line_patterns\[0\]"):
        parse_step({"type": "boilerplate", "extra_line_patterns": ["(unclosed"]}, where="steps[0]")
    bad = tmp_path / "bad.txt"
    bad.write_text("[nonsense]\nfoo\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown section"):
        BoilerplateConfig(patterns_file=str(bad)).build()


def test_repeated_titles_keep_their_first_copy(remover):
    text = "감마\n선택한 개체의 감마 값을 지정합니다.\n감마\n예\n예\n예\n확인을 누릅니다.\n확인을 누릅니다."
    doc = run(remover, text)
    # a short line found exactly twice loses its second copy; three copies (table values) and
    # repeated sentences stay for the repetition step
    assert doc.text == "감마\n선택한 개체의 감마 값을 지정합니다.\n예\n예\n예\n확인을 누릅니다.\n확인을 누릅니다."
    assert doc.metadata["num_boilerplate_lines"] == 1
    off = run(BoilerplateConfig(drop_repeated_titles=False).build(), text)
    assert off.text == text
