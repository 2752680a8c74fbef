"""The ``spam`` lexicon step and the ``url_blocklist`` step."""

from __future__ import annotations

from pathlib import Path

import pytest
from filter_helpers import run_step
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step
from hanforge.corpus.filters.spam import JAMO_RUN_TERM, SpamConfig
from hanforge.corpus.filters.url_blocklist import UrlBlocklistConfig, url_host
from hanforge.errors import ConfigError

SPAM_PAGE = """★ 2024 최신 메이저사이트 추천 ★
먹튀검증 완료된 안전놀이터만 소개합니다. 바카라사이트, 온라인카지노, 슬롯사이트 모두 첫충 20% 매충 10%!
꽁머니 이벤트 진행중 ㅋㅋㅋㅋㅋ 가입코드 입력시 추가 혜택
스포츠토토 배팅은 검증된 토토사이트에서 하세요. 먹튀 걱정 없는 카지노.
문의는 텔레그램 문의 주세요"""

NEWS_ON_GAMBLING = (
    "경찰청은 불법 온라인 도박 사이트 특별 단속을 벌여 운영자 등 120명을 검거했다고 11일 밝혔다. "
    "이들은 해외에 서버를 두고 바카라와 스포츠 경기에 돈을 걸게 하는 방식으로 3년간 약 2천억 원의 "
    "판돈을 끌어모은 것으로 조사됐다. 경찰은 범죄수익 환수를 위해 계좌 추적을 이어가고 있으며, "
    "청소년을 상대로 한 광고가 늘고 있어 학교와 함께 예방 교육도 강화하기로 했다. 전문가들은 불법 "
    "도박이 중독으로 이어지기 쉽다며 의심 사이트에 접속하지 말 것을 당부했다. 한편 정부는 합법 "
    "사행산업의 온라인 판매 한도를 재검토하고 있다고 밝혔다."
)


run = run_step


@pytest.fixture(scope="module")
def spam():
    return SpamConfig().build()


def test_gambling_spam_page_dropped(spam):
    doc = run(spam, SPAM_PAGE)
    assert doc.metadata["drop_reason"] == "spam_lexicon"
    assert doc.metadata["drop_step"] == "spam"
    hits = spam.hits(SPAM_PAGE)
    assert {"바카라", "먹튀", "카지노", "꽁머니"} <= set(hits)
    assert hits[JAMO_RUN_TERM] == 1
    assert spam.stats["spam/hits"].total == sum(hits.values())


def test_news_article_about_gambling_kept(spam):
    hits = spam.hits(NEWS_ON_GAMBLING)
    assert hits  # it does mention spam terms...
    assert run(spam, NEWS_ON_GAMBLING).metadata.get("drop_reason") is None  # ...but sparsely


def test_sample_pages_never_spam(spam, sample_html_files: list[Path]):
    for path in sample_html_files:
        text = extract_plain_text(path.read_text(encoding="utf-8"), main_content=True)
        assert run(spam, text).metadata.get("drop_reason") is None, path.name


def test_thresholds_and_extra_terms():
    text = "오늘 대출 상담 대출 금리 대출 한도 안내입니다."
    assert run(SpamConfig().build(), text).metadata.get("drop_reason") is None  # one distinct term
    step = SpamConfig(extra_terms=["상담", "한도"]).build()
    assert run(step, text).metadata["drop_reason"] == "spam_lexicon"
    step = SpamConfig(extra_terms=["상담", "한도"], max_hits_per_1k_chars=500.0).build()
    assert run(step, text).metadata.get("drop_reason") is None


def test_custom_lexicon_replaces_builtin(tmp_path):
    lexicon = tmp_path / "lex.txt"
    lexicon.write_text("# my list\n무료체험\n할인쿠폰\n최저가\n", encoding="utf-8")
    step = SpamConfig(lexicon_file=str(lexicon), min_jamo_run=0).build()
    assert run(step, "무료체험 할인쿠폰 최저가 무료체험 이벤트").metadata["drop_reason"] == "spam_lexicon"
    assert run(step, SPAM_PAGE).metadata.get("drop_reason") is None
    with pytest.raises(ConfigError, match="lexicon_file"):
        parse_step({"type": "spam", "lexicon_file": str(tmp_path / "nope.txt")}, where="s")


def test_jamo_runs():
    step = SpamConfig(lexicon_file=None, min_jamo_run=4).build()
    assert step.hits("ㅋㅋㅋ 재밌다 ㅋㅋㅋㅋㅋ ㅎㅎㅎㅎ") == {JAMO_RUN_TERM: 2}


@pytest.fixture(scope="module")
def blocklist():
    return UrlBlocklistConfig(domains=["badsite.co.kr"], url_substrings=["/adult/"]).build()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://badsite.co.kr/page", "url_blocklist:domain"),
        ("https://www.BadSite.co.kr./page", "url_blocklist:domain"),
        ("https://news.badsite.co.kr:8080/a?b=c", "url_blocklist:domain"),
        ("https://notbadsite.co.kr/page", None),
        ("https://blocked.example/x", "url_blocklist:domain"),  # from the built-in file
        ("https://example.com/adult/123", "url_blocklist:substring"),
        ("https://example.com/online-CASINO-guide", "url_blocklist:substring"),  # built-in substring
        ("https://help.libreoffice.org/latest/ko/text/swriter/main0000.html", None),
        ("not a url at all", None),
        ("http://[broken", None),
    ],
)
def test_url_blocklist(blocklist, url, expected):
    assert run(blocklist, "본문", url=url).metadata.get("drop_reason") == expected


def test_documents_without_url_pass(blocklist):
    assert run(blocklist, "본문").metadata.get("drop_reason") is None
    assert run(blocklist, "본문", url=None).metadata.get("drop_reason") is None


def test_url_host():
    assert url_host("HTTPS://WWW.Example.COM./a") == "www.example.com"
    assert url_host("/relative/path") is None


def test_custom_blocklist_file(tmp_path):
    path = tmp_path / "block.txt"
    path.write_text("[domains]\nexample.org\n[url_substrings]\n?ref=spam\n", encoding="utf-8")
    step = UrlBlocklistConfig(blocklist_file=str(path)).build()
    assert run(step, "x", url="https://sub.example.org/").metadata["drop_reason"] == "url_blocklist:domain"
    assert run(step, "x", url="https://ok.kr/?ref=spam").metadata["drop_reason"] == "url_blocklist:substring"
    assert run(step, "x", url="https://ok.kr/casino").metadata.get("drop_reason") is None  # built-in replaced
