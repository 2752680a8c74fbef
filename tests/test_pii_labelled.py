"""Recall per PII type and hard-negative touch rate on a slice of the labelled set
(tests/pii_labelled.py; the whole set is measured by bench/pii_recall.py)."""

from __future__ import annotations

from pii_labelled import TYPES, build_labelled_set, evaluate

from hanforge.corpus.pii import scrub_pii

TARGET_RECALL = {t: 0.95 if t == "ACCOUNT" else 0.98 for t in TYPES}


def test_labelled_set_is_deterministic_and_large_enough():
    records = build_labelled_set()
    assert len(records) >= 1000
    assert records == build_labelled_set()
    assert {r.type for r in records} == {*TYPES, None}
    for r in records:
        assert r.type is None or r.span in r.text


def test_recall_per_type_and_hard_negatives_on_a_slice():
    records = build_labelled_set()[::5]
    result = evaluate(records, scrub_pii)
    assert min(result["positives"].values()) >= 10 and result["negatives"] >= 100
    for pii_type, recall in result["recall"].items():
        assert recall >= TARGET_RECALL[pii_type], (pii_type, recall, result["missed"][:10])
    assert result["touch_rate"] <= 0.01, result["touched"][:10]
