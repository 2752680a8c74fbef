"""kss ``sentences`` option and morpheme ``precise`` mode of the quality and repetition steps."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from filter_helpers import CLEAN_NEWS, run_step

from hanforge.corpus import morphemes, sentences
from hanforge.corpus.filters.quality import QualityConfig
from hanforge.corpus.filters.repetition import RepetitionConfig
from hanforge.errors import ConfigError
from hanforge.tokenizer import morpheme_split

# The tests on the real libraries run wherever the korean extra is installed (CI's dev extra
# holds it); kss loads only its sentence module (about 1 s of CPU, not the 18 s of `import kss`).


@pytest.mark.parametrize("cls", [QualityConfig, RepetitionConfig])
def test_bad_options_are_config_errors(cls):
    with pytest.raises(ConfigError, match="sentence_backend"):
        cls(sentences=True, sentence_backend="mecab").validate()
    with pytest.raises(ConfigError, match="precise"):
        cls(precise="hannanum").validate()
    with pytest.raises(ConfigError, match="sentence_min_chars"):
        cls(sentence_min_chars=0).validate()


def test_missing_packages_name_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kss", None)  # import kss -> ImportError
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)
    caches = (sentences._kss_split, morphemes.analyzer)
    for cached in caches:
        cached.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"kss is not installed.*hanforge\[korean\]"):
            RepetitionConfig(sentences=True).build()
        with pytest.raises(ConfigError, match=r"kiwipiepy is not installed.*hanforge\[korean\]"):
            QualityConfig(precise="kiwi").build()
    finally:
        for cached in caches:
            cached.cache_clear()


def test_missing_jvm_names_the_debian_package(monkeypatch):
    pytest.importorskip("konlpy", reason="konlpy is in the korean extra")
    monkeypatch.setattr(morpheme_split.shutil, "which", lambda name: None)
    morphemes.analyzer.cache_clear()
    try:
        with pytest.raises(ConfigError, match="default-jre-headless"):
            RepetitionConfig(precise="okt").build()
    finally:
        morphemes.analyzer.cache_clear()


def test_split_long_lines_only_touches_long_lines(monkeypatch):
    calls = []

    def fake_split(line, *, backend, num_workers):
        calls.append((line, backend))
        return [s for s in line.split("| ") if s]

    monkeypatch.setattr(sentences, "_kss_split", lambda: fake_split)
    lines = ["짧은 줄", "가나다.| 라마바.| 사아자.", "또 짧은 줄"]
    assert sentences.split_long_lines(lines, min_chars=10, backend="fast") == [
        "짧은 줄",
        "가나다.",
        "라마바.",
        "사아자.",
        "또 짧은 줄",
    ]
    assert calls == [("가나다.| 라마바.| 사아자.", "fast")]
    assert sentences.split_long_lines(lines, min_chars=100) == lines  # nothing long: no kss call
    assert len(calls) == 1


def test_sentences_make_one_line_article_countable(monkeypatch):
    """A one-line article: no line ends a sentence under the line rule until it is split."""
    monkeypatch.setattr(sentences, "_kss_split", lambda: lambda line, **kw: [s + "다" for s in line.split("다 ") if s])
    monkeypatch.setattr(sentences, "require_kss", lambda backend: None)
    article = " ".join(["오늘 서울에서 큰 행사가 열렸다 시민들이 많이 모였다"] * 3) + " 그리고 모두 집으로"
    plain = run_step(QualityConfig(min_line_punct_ratio=0.5).build(), article)
    split = run_step(QualityConfig(min_line_punct_ratio=0.5, sentences=True, sentence_min_chars=20).build(), article)
    assert plain.metadata["drop_reason"] == "line_punct_ratio"
    assert split.metadata.get("drop_reason") is None
    assert split.text == article  # statistics only; the text is unchanged


def test_real_kss_splits_a_long_line():
    if importlib.util.find_spec("kss") is None:  # importorskip would run kss/__init__ (18 s of CPU)
        pytest.skip("kss is in the korean extra (pip install 'hanforge[korean]')")
    sentences._kss_split.cache_clear()
    line = "오늘은 날씨가 좋았다. 그래서 공원에 갔습니다. 내일도 갈까요?"
    assert sentences.split_long_lines([line], min_chars=10, backend="punct") == [
        "오늘은 날씨가 좋았다.",
        "그래서 공원에 갔습니다.",
        "내일도 갈까요?",
    ]


def test_precise_kiwi_stop_words_and_morpheme_ngrams():
    pytest.importorskip("kiwipiepy", reason="kiwipiepy is in the korean extra")
    doc = run_step(QualityConfig(precise="kiwi").build(), CLEAN_NEWS)
    assert doc.metadata.get("drop_reason") is None
    assert 1.0 < doc.metadata["avg_morpheme_len"] < doc.metadata.get("avg_eojeol_len", 99)
    # Korean nouns only: no particle or ending morpheme from FineWeb-2's stop words.
    nouns = "정부 예산안 국회 제출 서울 아파트값 상승세 지속 프로야구 개막전 매진 행렬."
    assert run_step(QualityConfig(precise="kiwi").build(), nouns).metadata["drop_reason"] == "stop_words"
    assert morphemes.count_stop_words(morphemes.morphemes("나는 학교에 간다", "kiwi"), at_most=9) >= 2
    rep = run_step(RepetitionConfig(precise="kiwi").build(), CLEAN_NEWS)
    assert rep.metadata.get("drop_reason") is None


def test_konlpy_okt_runs_on_the_local_jvm(monkeypatch):
    """konlpy's Okt on the JVM: morphemes for the precise mode and aligned boundaries for tokenizer
    training (Okt keeps surface forms, so every boundary is found in the line)."""
    pytest.importorskip("konlpy", reason="konlpy is in the korean extra (pip install 'hanforge[korean]')")
    if morpheme_split.shutil.which("java") is None:
        pytest.skip("no Java runtime: apt-get install -y default-jre-headless (.ci/run installs it)")
    # Only the JIT's first tier: half the CPU of starting the JVM and loading Okt (12 -> 6 s here).
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1")
    assert morphemes.morphemes("학교에서 공부했다", "okt") == ["학교", "에서", "공부", "했다"]
    sep = morpheme_split.DELIMITER
    assert morpheme_split.mark_morphemes("학교에서 공부했다", analyzer="okt") == f"학교{sep}에서 공부{sep}했다"
