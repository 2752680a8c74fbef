"""All Korean filters together, in the default order, on the embedded sample."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datatrove.data import Document
from resiliparse.extract.html2text import extract_plain_text

from hanforge.config import parse_step, step_types

ORDER = ["boilerplate", "hangul_ratio", "length", "repetition", "quality", "spam", "url_blocklist"]


def run_chain(texts: list[tuple[str, str]]) -> list[Document]:
    stream = iter([Document(text=text, id=doc_id, metadata={}) for doc_id, text in texts])
    for i, name in enumerate(ORDER):
        stream = parse_step({"type": name}, where=f"steps[{i}]").build().run(stream)
    return list(stream)


def test_all_filters_registered():
    assert set(ORDER) <= set(step_types())


def test_chain_on_sample_is_complete_and_deterministic(sample_html_files: list[Path]):
    texts = [
        (str(p.name), extract_plain_text(p.read_text(encoding="utf-8"), main_content=True)) for p in sample_html_files
    ]
    first = run_chain(texts)
    assert [d.id for d in first] == [doc_id for doc_id, _ in texts]  # nothing lost, order kept
    kept = [d for d in first if d.metadata.get("drop_reason") is None]
    dropped = [d for d in first if d.metadata.get("drop_reason") is not None]
    assert len(kept) + len(dropped) == len(texts)
    assert all(d.metadata["drop_step"] in ORDER for d in dropped)
    # every kept document carries every filter's signals
    for d in kept:
        for key in (
            "num_boilerplate_lines",
            "hangul_ratio",
            "lang",
            "num_chars",
            "num_lines",
            "num_eojeols",
            "dup_line_frac",
            "top_ngram_char_frac",
            "dup_ngram_char_frac",
            "avg_eojeol_len",
            "punct_ratio",
            "symbol_ratio",
            "digit_ratio",
        ):
            assert key in d.metadata, key
        assert d.metadata["lang"] == "ko" and d.metadata["num_chars"] == len(d.text)
    # the mostly-Korean half of the sample is mostly kept; untranslated pages go on hangul_ratio
    # (English-only lines go before the ratio is taken, so a page whose Korean part is under the
    # length minimum is dropped by `length`: those are left out of the count)
    korean = [d for d in first if d.metadata["hangul_ratio"] >= 0.3 and d.metadata.get("drop_step") != "length"]
    assert len([d for d in korean if d in kept]) / len(korean) > 0.75
    reasons = Counter(d.metadata["drop_reason"] for d in dropped)
    assert reasons.most_common(1)[0][0] == "hangul_ratio"

    second = run_chain(texts)
    assert [(d.text, d.metadata) for d in second] == [(d.text, d.metadata) for d in first]


def test_steps_survive_pickling_for_worker_processes():
    """Executors ship steps to worker processes by pickling them (automata and regexes included)."""
    import pickle

    text = "카지노 바카라 먹튀 토토사이트 꽁머니 " * 20 + "\n홈 > 뉴스 > 정치\n한국은행이 금리를 동결했다."
    for i, name in enumerate(ORDER):
        step = parse_step({"type": name}, where=f"steps[{i}]").build()
        clone = pickle.loads(pickle.dumps(step))
        docs = [Document(text=text, id="d", metadata={"url": "https://casino.example.kr/"}) for _ in range(2)]
        (a,) = list(step.run(iter(docs[:1])))
        (b,) = list(clone.run(iter(docs[1:])))
        assert (a.text, a.metadata) == (b.text, b.metadata), name
