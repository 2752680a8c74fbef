"""Shared helpers of the filter tests: run one step on one text, and a clean Korean news text."""

from __future__ import annotations

from datatrove.data import Document

#: Three lines of ordinary Korean news prose that every filter keeps with its defaults.
CLEAN_NEWS = (
    "한국은행이 기준금리를 연 3.50%로 동결했다. 금융통화위원회는 물가 상승률이 둔화하고 있지만 "
    "가계부채 증가세가 여전히 높다고 판단했다.\n"
    "이창용 총재는 회의 직후 열린 간담회에서 당분간 긴축 기조를 유지하겠다고 밝혔다. "
    "시장에서는 내년 상반기 중 인하 가능성을 점치는 목소리가 커지고 있다.\n"
    "전문가들은 미국 연방준비제도의 움직임과 환율 흐름이 향후 결정의 변수가 될 것으로 내다봤다."
)


def run_step(step, text: str, **metadata) -> Document:
    """Pass one document through ``step`` and return it (kept or marked dropped)."""
    doc = Document(text=text, id="doc", metadata=dict(metadata))
    (out,) = list(step.run(iter([doc])))
    return out
