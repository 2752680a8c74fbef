"""The shard writer reports metadata keys that are neither a text-shard column nor scratch."""

from __future__ import annotations

import warnings

import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from hanforge.shards import document_keys as keys
from hanforge.shards.text_writer import ShardWriterStep


def _write(tmp_path, metadata):
    step = ShardWriterStep(tmp_path)
    list(step.run(iter([Document(text="안녕하세요", id="d1", metadata={"source": "s", **metadata})])))
    return step


def test_a_mistyped_signal_name_is_an_error_under_pytest(tmp_path):
    with pytest.raises(keys.UnknownMetadataWarning, match="hangul_ratoi"):
        _write(tmp_path, {"hangul_ratoi": 0.9})


def test_unknown_keys_are_counted_and_the_row_still_written(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step = _write(tmp_path, {"hangul_ratoi": 0.9, "hangul_ratio": 0.8})
    assert [w.category for w in caught] == [keys.UnknownMetadataWarning]
    assert step.stats["unknown_metadata/hangul_ratoi"].total == 1
    table = pq.read_table(next((tmp_path / "shards").glob("*.parquet")))
    assert table.column("hangul_ratio").to_pylist() == [pytest.approx(0.8)]


def test_scratch_keys_are_dropped_without_a_word(tmp_path):
    step = _write(tmp_path, {keys.RAW: b"<html>", keys.FORMAT: keys.FORMAT_TEXT, keys.WARC_LANG: "kor"})
    assert not any(k.startswith("unknown_metadata") for k in step.stats.stats)  # Stats has no __contains__
