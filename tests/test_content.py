"""Tests of the markup-based content extractor (``backend = "content"``) on small pages and the
embedded Korean sample."""

from __future__ import annotations

from hanforge.corpus.content import extract_content


def page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>제목</title><script>var s = '스크립트';</script></head><body>{body}</body></html>"


def test_navigation_elements_go_and_content_stays():
    text = extract_content(
        page(
            '<header><a href="/">LibreOffice 7.4 도움말</a></header>'
            '<div class="navheader"><table><tr><th>10장. 데비안 및 커널</th></tr></table></div>'
            '<nav><a href="/a">홈</a> <a href="/b">뉴스</a></nav>'
            '<div class="chapter"><h1>10장. 데비안 및 커널</h1>'
            '<div class="toc"><p>차례</p><dl><dt><a href="#a">10.1. 설치</a></dt></dl></div>'
            "<p>공통적인 문제가 하나 있습니다.</p></div>"
            '<aside>광고</aside><div id="footer">저작권 표시</div>'
            '<footer><a href="/bug">버그 보고</a></footer>'
        )
    )
    assert text == "10장. 데비안 및 커널\n공통적인 문제가 하나 있습니다."


def test_inline_text_stays_in_reading_order():
    text = extract_content(
        page(
            '<p>메뉴에서 <span class="guimenu">파일</span> → <span class="guimenuitem">위치 열기</span>를 '
            '고릅니다.</p><p><span class="menuitem">도구 - 옵션</span>을 누르고 <kbd>Ctrl</kbd>+<kbd>F</kbd>'
            '<img src="x.png" alt="icon">로 찾습니다.</p>'
        )
    )
    assert text == "메뉴에서 파일 → 위치 열기를 고릅니다.\n도구 - 옵션을 누르고 Ctrl+F로 찾습니다."


def test_hidden_alternatives_keep_the_default_reading():
    text = extract_content(
        page(
            '<p>단축키 <span class="switchinline"><span hidden="true" id="MAC1" class="MAC">Command</span>'
            '<span hidden="true" id="default1">Ctrl</span></span> + F 를 누릅니다.</p>'
            '<span class="switch"><span hidden="true" class="CALC"><p>셀에서만 보이는 설명입니다.</p></span></span>'
            "<p>보이는 문단 <span hidden>숨긴 글자</span>입니다.</p>"
        )
    )
    assert text == "단축키 Ctrl + F 를 누릅니다.\n셀에서만 보이는 설명입니다.\n보이는 문단 입니다."


def test_link_blocks_go_but_sentences_with_links_stay():
    text = extract_content(
        page(
            '<h1><a href="self.html">링크된 제목</a></h1>'
            '<p>더 많은 정보는 <a href="https://x.org">커널 핸드북</a>에서 얻을 수 있습니다.</p>'
            '<p class="related">관련 주제</p><p><a href="a.html">특수 문자 삽입</a></p>'
            '<ul><li><a href="1">하나</a></li><li><a href="2">둘</a></li><li><a href="3">셋</a></li></ul>'
            "<pre>make  deb-pkg\n  dpkg -i</pre>"
        )
    )
    assert text == "링크된 제목\n더 많은 정보는 커널 핸드북에서 얻을 수 있습니다.\nmake  deb-pkg\n  dpkg -i"


def test_lists_tables_and_odd_input():
    text = extract_content(
        page("<ol><li><p>첫째 단계</p></li><li>둘째 단계</li></ol><table><tr><td>키</td><td>동작</td></tr></table>")
    )
    assert text == "• 첫째 단계\n• 둘째 단계\n키\n동작"  # a table cell is a block
    assert (
        extract_content('<?xml version="1.0" encoding="UTF-8"?><html><body><p>선언 뒤 본문</p></body></html>')
        == "선언 뒤 본문"
    )
    assert extract_content("") == "" and extract_content("   ") == ""


def test_real_sample_pages_keep_korean_and_no_site_chrome(sample_dir):
    faq = extract_content((sample_dir / "debian-faq-ko" / "kernel.ko.html").read_text(encoding="utf-8"))
    assert faq.count("10장. 데비안 및 커널") == 1  # the navheader copy of the title is gone
    assert "차례" not in faq and "9장." not in faq and "11장." not in faq  # toc, prev/next line
    assert faq.rstrip().endswith("더 많은 정보는 Debian Linux Kernel Handbook에서 유지됩니다.")
    for path in sorted((sample_dir / "libreoffice-help-ko").rglob("*.html"))[:20]:
        text = extract_content(path.read_text(encoding="utf-8"))
        assert "Search in all modules" not in text and "LibreOffice 7.4 Help" not in text
        assert "Help content debug info" not in text and "관련 주제" not in text
