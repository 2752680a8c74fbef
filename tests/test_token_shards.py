"""Token shards: packing invariants, round trip through a real tokenizer, determinism, Polars,
loss masks, wide ids and resume of ``hanforge tokenize``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from token_helpers import sample_texts, train_tiny_tokenizer, write_text_shards

from hanforge.errors import InputError, OutputError, ShardError
from hanforge.shards import token_format
from hanforge.shards.token_format import open_token_shard, read_manifest, write_token_shards
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_job import tokenize_shards

SEQ_LEN = 96


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("corpus")
    docs = sample_texts(sample_html_files)
    docs.append(("libreoffice", ""))  # an empty document: must be counted, not lost
    docs.append(("libreoffice", "본문에 </s> 와 <s> 가 그대로 있는 문서"))  # text, not special tokens
    shards = write_text_shards(root / "text", docs, num_shards=3)
    tok = train_tiny_tokenizer(shards, root / "tok", vocab_size=1200)
    return {"root": root, "shards": shards, "tok": tok, "docs": docs}


def _docs_in_shard_order(corpus) -> list[str]:
    """Texts in the order tokenize reads them: shard files sorted by name, rows in order."""
    docs = corpus["docs"]
    return [text for k in range(3) for _, text in docs[k::3]]


def _rows(folder: Path):
    manifest = read_manifest(folder)
    for shard in manifest["shards"]:
        table = open_token_shard(folder / shard["file"])
        ids = table.column("input_ids").combine_chunks().flatten().to_numpy().reshape(-1, manifest["seq_len"])
        lens = table.column("doc_lens").to_pylist()
        cont = table.column("continues").to_pylist()
        pads = table.column("num_pad").to_pylist()
        mask = None
        if "loss_mask" in table.column_names:
            mask = table.column("loss_mask").combine_chunks().flatten().to_numpy().reshape(-1, manifest["seq_len"])
        for r in range(len(ids)):
            yield ids[r], lens[r], cont[r], pads[r], (mask[r] if mask is not None else None)


def _unpack(folder: Path) -> list[list[int]]:
    """Rebuild the documents' id lists from the rows using doc_lens and the continues flags."""
    docs: list[list[int]] = []
    for ids, lens, cont, _pad, _mask in _rows(folder):
        pos = 0
        for j, n in enumerate(lens):
            segment = ids[pos : pos + n].tolist()
            if j == 0 and cont:
                docs[-1].extend(segment)
            else:
                docs.append(segment)
            pos += n
    return docs


def test_decode_of_packed_rows_reproduces_documents_in_order(corpus, tmp_path):
    out = tmp_path / "tokens"
    manifest = tokenize_shards(
        inputs=[corpus["shards"]],
        tokenizer=corpus["tok"],
        seq_len=SEQ_LEN,
        output=out,
        rows_per_shard=40,
        shuffle_seed=None,
        progress=False,
    )
    loaded = load_tokenizer(corpus["tok"])
    docs = _unpack(out)
    expected = [t for t in _docs_in_shard_order(corpus) if t]
    assert len(docs) == len(expected) == manifest["num_docs"]
    assert manifest["num_skipped_empty_docs"] == 1
    assert manifest["num_docs"] + manifest["num_skipped_empty_docs"] == len(corpus["docs"])
    for ids, text in zip(docs, expected, strict=True):
        assert ids[-1] == loaded.eos_id and loaded.eos_id not in ids[:-1]
        assert loaded.tokenizer.decode(ids[:-1], skip_special_tokens=False) == text
    assert len(manifest["shards"]) > 1 and not (out / "_work").exists()
    assert sum(s["num_tokens"] for s in manifest["sources"].values()) == manifest["num_tokens"]


def test_rows_have_padding_only_at_the_end_and_boundaries_line_up(corpus, tmp_path):
    out = tmp_path / "tokens"
    manifest = tokenize_shards(
        inputs=[corpus["shards"]],
        tokenizer=corpus["tok"],
        seq_len=SEQ_LEN,
        output=out,
        rows_per_shard=40,
        shuffle_seed=7,
        progress=False,
    )
    eos = manifest["eos_id"]
    rows = list(_rows(out))
    assert len(rows) == manifest["num_rows"]
    prev_ends_doc = True
    for r, (ids, lens, cont, pad, _) in enumerate(rows):
        assert sum(lens) + pad == SEQ_LEN and all(n > 0 for n in lens)
        assert (ids[SEQ_LEN - pad :] == manifest["pad_id"]).all()
        assert pad == 0 or r == len(rows) - 1  # split mode: only the very last row is padded
        assert cont == (not prev_ends_doc)
        ends = np.cumsum(lens)
        for j, end in enumerate(ends):
            last_in_row = j == len(lens) - 1
            if not last_in_row:
                assert ids[end - 1] == eos  # every inner segment ends its document
        prev_ends_doc = ids[ends[-1] - 1] == eos
    assert manifest["packing_efficiency"] >= 0.995
    # shuffled: same multiset of documents, another order
    assert sorted(map(tuple, _unpack(out))) != list(map(tuple, _unpack(out)))


def test_same_inputs_give_byte_identical_shards_with_1_or_2_workers(corpus, tmp_path):
    runs = []
    for name, workers in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / name
        tokenize_shards(
            inputs=[corpus["shards"]],
            tokenizer=corpus["tok"],
            seq_len=SEQ_LEN,
            output=out,
            rows_per_shard=50,
            shuffle_seed=3,
            num_workers=workers,
            progress=False,
        )
        runs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert runs[0] == runs[1] == runs[2]
    manifest = json.loads(runs[0]["manifest.json"])
    assert str(tmp_path) not in runs[0]["manifest.json"].decode()
    assert set(manifest["inputs"]) == {f"text/shards/part-{k}.parquet" for k in range(3)}
    assert manifest["tokenizer"]["fingerprint"] == load_tokenizer(corpus["tok"]).fingerprint


def test_polars_opens_the_shards(corpus, tmp_path):
    out = tmp_path / "tokens"
    manifest = tokenize_shards(
        inputs=[corpus["shards"]],
        tokenizer=corpus["tok"],
        seq_len=SEQ_LEN,
        output=out,
        rows_per_shard=64,
        progress=False,
    )
    frames = [pl.read_ipc(out / s["file"]) for s in manifest["shards"]]
    df = pl.concat(frames)
    assert df.height == manifest["num_rows"]
    assert df.schema["input_ids"] == pl.Array(pl.UInt16, SEQ_LEN)
    assert df["num_pad"].sum() == manifest["num_pad_tokens"]
    assert df["doc_lens"].list.sum().sum() == manifest["num_tokens"]
    assert pl.scan_ipc(out / "tokens-00000.arrow").select(pl.len()).collect().item() == 64


def test_tokenize_resumes_after_a_crash(corpus, tmp_path, monkeypatch):
    kwargs = dict(
        inputs=[corpus["shards"]],
        tokenizer=corpus["tok"],
        seq_len=SEQ_LEN,
        rows_per_shard=30,
        shuffle_seed=5,
        progress=False,
    )
    reference = tmp_path / "ref"
    tokenize_shards(output=reference, **kwargs)

    out = tmp_path / "out"
    original = token_format.TokenShardWriter._write_shard

    def crash_after_two(self, *args):
        if len(self.shards) == 2:
            (out / "tokens-00002.arrow.tmp-999").write_bytes(b"half a shard")  # what a kill leaves
            raise KeyboardInterrupt("killed")
        return original(self, *args)

    monkeypatch.setattr(token_format.TokenShardWriter, "_write_shard", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        tokenize_shards(output=out, **kwargs)
    assert not (out / "manifest.json").exists()
    assert sorted(p.name for p in out.glob("tokens-*.arrow")) == ["tokens-00000.arrow", "tokens-00001.arrow"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("tokens-*.arrow")}
    monkeypatch.setattr(token_format.TokenShardWriter, "_write_shard", original)

    from hanforge.tokenizer import tokenize_job as tokenize_module

    calls = []
    monkeypatch.setattr(tokenize_module, "_tokenize_one", lambda job: calls.append(job))
    manifest = tokenize_shards(output=out, **kwargs)
    assert calls == []  # phase 1 (tokenizing) was not redone
    monkeypatch.undo()
    assert {p: (out / p).stat().st_mtime_ns for p in mtimes} == mtimes  # finished shards not rewritten
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in reference.iterdir()}
    # a finished set is returned as is; other settings into the same folder are refused
    assert tokenize_shards(output=out, **kwargs) == manifest
    with pytest.raises(OutputError, match="different config or inputs"):
        tokenize_shards(output=out, **{**kwargs, "seq_len": 64})
    assert tokenize_shards(output=out, overwrite=True, **{**kwargs, "seq_len": 64})["seq_len"] == 64


def test_tokenize_rejects_bad_inputs(corpus, tmp_path):
    with pytest.raises(InputError, match="neither a Parquet file nor a folder"):
        tokenize_shards(inputs=[tmp_path / "missing"], tokenizer=corpus["tok"], seq_len=32, output=tmp_path / "o")
    (tmp_path / "bad").mkdir()
    pa.parquet.write_table(pa.table({"body": ["x"]}), tmp_path / "bad" / "a.parquet")
    with pytest.raises(ShardError, match="no column 'text'"):
        tokenize_shards(
            inputs=[tmp_path / "bad"], tokenizer=corpus["tok"], seq_len=32, output=tmp_path / "o", progress=False
        )
    with pytest.raises(InputError, match="no tokenizer.json"):
        tokenize_shards(inputs=[corpus["shards"]], tokenizer=tmp_path, seq_len=32, output=tmp_path / "o")


def test_writer_whole_mode_keeps_examples_whole_and_masks_line_up(tmp_path):
    rng = np.random.default_rng(0)
    examples = []
    for _ in range(200):
        n = int(rng.integers(3, 40))
        ids = rng.integers(3, 500, n)
        mask = (np.arange(n) >= n // 2).astype(int)  # prompt half masked out, answer half trained
        examples.append((ids.tolist(), mask.tolist()))
    examples.append((list(range(3, 80)), None))  # too long for one row: truncated and counted
    manifest = write_token_shards(
        examples,
        output=tmp_path,
        seq_len=64,
        vocab_size=500,
        eos_id=2,
        pad_id=0,
        split_documents=False,
        rows_per_shard=16,
        with_loss_mask=True,
    )
    assert manifest["has_loss_mask"] and manifest["num_truncated_docs"] == 1
    assert manifest["num_docs"] == len(examples)
    want = {}
    for ids, mask in examples[:-1]:
        want.setdefault(tuple(ids + [2]), []).append(tuple(mask + [1]))
    seen = 0
    for ids, lens, cont, pad, mask in _rows(tmp_path):
        assert not cont and sum(lens) + pad == 64
        assert (ids[64 - pad :] == 0).all() and (mask[64 - pad :] == 0).all()
        pos = 0
        for n in lens:
            seg, seg_mask = tuple(ids[pos : pos + n].tolist()), tuple(mask[pos : pos + n].tolist())
            if seg in want:
                assert seg_mask in want[seg]
                seen += 1
            else:  # the truncated one
                assert seg == tuple(range(3, 67)) and set(seg_mask) == {1}
            pos += n
    assert seen == len(examples) - 1
    assert manifest["packing_efficiency"] > 0.9


def test_writer_uses_4_byte_ids_above_65535_and_rejects_bad_ids(tmp_path):
    examples = [([65535, 69999, 5], None), ([1, 2, 3, 4], None)]
    manifest = write_token_shards(examples, output=tmp_path / "w", seq_len=8, vocab_size=70000, eos_id=69998)
    table = open_token_shard(tmp_path / "w" / "tokens-00000.arrow")
    assert table.schema.field("input_ids").type.value_type == pa.uint32()
    assert manifest["id_dtype"] == "uint32"
    assert table.column("input_ids").to_pylist()[0] == [65535, 69999, 5, 69998, 1, 2, 3, 4]
    narrow = write_token_shards([([1, 2], None)], output=tmp_path / "n", seq_len=4, vocab_size=65536)
    assert narrow["id_dtype"] == "uint16"
    with pytest.raises(ShardError, match="document 1: token id outside"):
        write_token_shards([([1], None), ([70000], None)], output=tmp_path / "x", seq_len=8, vocab_size=70000)
    with pytest.raises(ShardError, match="loss_mask length"):
        write_token_shards([([1, 2], [1])], output=tmp_path / "y", seq_len=8, vocab_size=10)


def test_cli_tokenize_prints_a_summary(corpus, tmp_path, capsys):
    from hanforge.cli import main as cli_main

    code = cli_main(
        [
            "tokenize",
            str(corpus["shards"]),
            "--tokenizer",
            str(corpus["tok"]),
            "--seq-len",
            "64",
            "--output",
            str(tmp_path / "t"),
            "--rows-per-shard",
            "100",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "packing efficiency" in out and "skipped empty documents: 1" in out
    assert read_manifest(tmp_path / "t")["seq_len"] == 64
    assert (
        cli_main(
            [
                "tokenize",
                str(tmp_path / "nope"),
                "--tokenizer",
                str(corpus["tok"]),
                "--seq-len",
                "64",
                "--output",
                str(tmp_path / "u"),
            ]
        )
        == 2
    )


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=st.lists(st.lists(st.integers(3, 999), min_size=0, max_size=40), min_size=1, max_size=30),
    seq_len=st.integers(2, 24),
    rows_per_shard=st.integers(1, 5),
)
def test_split_packing_round_trips_for_any_documents(tmp_path_factory, docs, seq_len, rows_per_shard):
    out = tmp_path_factory.mktemp("prop")
    manifest = write_token_shards(
        ((d, None) for d in docs),
        output=out,
        seq_len=seq_len,
        vocab_size=1000,
        eos_id=2,
        pad_id=0,
        rows_per_shard=rows_per_shard,
    )
    kept = [d + [2] for d in docs if d]
    assert manifest["num_docs"] == len(kept) and manifest["num_skipped_empty_docs"] == len(docs) - len(kept)
    if not kept:
        assert manifest["num_rows"] == 0
        return
    assert _unpack(out) == kept
    rows = list(_rows(out))
    assert all(pad == 0 for *_, pad, _ in rows[:-1])
    assert manifest["num_tokens"] == sum(map(len, kept))
    assert manifest["num_rows"] == -(-sum(map(len, kept)) // seq_len)


def test_tokenize_reruns_only_the_inputs_whose_work_is_missing(corpus, tmp_path, monkeypatch):
    from hanforge.tokenizer import tokenize_job as tokenize_module

    kwargs = dict(
        inputs=[corpus["shards"]],
        tokenizer=corpus["tok"],
        seq_len=SEQ_LEN,
        rows_per_shard=30,
        shuffle_seed=5,
        progress=False,
        output=tmp_path / "t",
    )
    tokenize_shards(keep_work=True, **kwargs)
    first = {p.name: p.read_bytes() for p in (tmp_path / "t").glob("tokens-*.arrow")}
    # a kill during phase 1: one input's marker never written, no shards or manifest yet
    (tmp_path / "t" / "_work" / "in-00001.json").unlink()
    (tmp_path / "t" / "manifest.json").unlink()
    for p in (tmp_path / "t").glob("tokens-*.arrow"):
        p.unlink()
    original, calls = tokenize_module._tokenize_one, []
    monkeypatch.setattr(
        tokenize_module, "_tokenize_one", lambda job, *rest: calls.append(job["key"]) or original(job, *rest)
    )
    tokenize_shards(**kwargs)
    assert calls == ["text/shards/part-1.parquet"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "t").glob("tokens-*.arrow")} == first
