"""BatchEncoder: the word path gives exactly the ids of ``encode_batch_fast``, document by document,
for SentencePiece-layout tokenizers (with and without a BOS template), across batches, threads and
cache resets; other tokenizers take the generic path; ``add_documents`` packs like ``add``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from token_helpers import sample_texts, train_tiny_tokenizer, write_text_shards
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from hanforge.shards.token_format import TokenShardWriter
from hanforge.tokenizer import batch_encode
from hanforge.tokenizer.batch_encode import BatchEncoder, ragged_take
from hanforge.tokenizer.load import load_tokenizer

# documents that stress the word split: runs of spaces, leading/trailing spaces, only spaces, the
# ▁ character itself, newlines, full-width space, byte fallback, special-token and user-symbol text
EDGE_CASES = [
    "",
    " ",
    "   ",
    "a  b",
    "끝 ",
    "  앞",
    "가 나  다   라",
    "</s> 문서 <s>",
    "<unk>",
    "<한국어> 안녕",
    "x<코드>y z",
    "<영어>",
    "\n\n 줄\n",
    "▁",
    "▁▁ 이상 ▁",
    "😀 이모지 \x00 \x7f",
    "a\u3000b",
    "탭\t탭",
    "숫자 12345 67",
    "ｆｕｌｌｗｉｄｔｈ",
    "ㄱㄴㄷ 가",
    "a" * 3000,
    "한" * 700 + " " + "국 " * 300,
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("batch-encode")
    docs = sample_texts(sample_html_files)
    shards = write_text_shards(root / "text", docs, num_shards=2)
    tok = train_tiny_tokenizer(shards, root / "tok", vocab_size=1200)
    texts = [t for _, t in docs]
    return {"root": root, "tok": tok, "texts": texts + EDGE_CASES + [None]}


def _reference(tokenizer: Tokenizer, texts, add_special_tokens=True) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch_fast([t or "" for t in texts], add_special_tokens=add_special_tokens)]


def _split(values: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    ends = np.cumsum(lengths)
    return [values[e - n : e].tolist() for e, n in zip(ends, lengths)]


def _assert_same(encoder: BatchEncoder, texts, add_special_tokens=True) -> None:
    values, lengths = encoder.encode(texts, add_special_tokens=add_special_tokens)
    assert values.dtype == np.uint32 and lengths.dtype == np.int64 and len(lengths) == len(texts)
    got, want = _split(values, lengths), _reference(encoder.tokenizer, texts, add_special_tokens)
    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    assert not bad, f"{len(bad)} documents differ, first: {texts[bad[0]]!r}"


def test_word_path_gives_the_ids_of_encode_batch_fast(corpus):
    encoder = load_tokenizer(corpus["tok"]).encoder
    assert encoder.word_path, encoder.blocker
    texts = corpus["texts"]
    _assert_same(encoder, texts)
    _assert_same(encoder, texts[::-1])  # second pass: every word from the cache
    for start in range(0, len(texts), 37):  # small batches: cache hits and misses mixed
        _assert_same(encoder, texts[start : start + 37])
    _assert_same(encoder, texts, add_special_tokens=False)


def test_word_cache_reset_and_threads_do_not_change_ids(corpus, monkeypatch):
    monkeypatch.setattr(batch_encode, "_CACHE_WORDS", 300)  # resets every few batches
    encoder = load_tokenizer(corpus["tok"]).encoder
    texts = corpus["texts"]
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for start in range(offset, len(texts), 23):
                _assert_same(encoder, texts[start : start + 23])
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 5,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_word_path_with_a_bos_template_and_an_extended_vocabulary(corpus, tmp_path):
    spec = json.loads((corpus["tok"] / "tokenizer.json").read_text())
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    tok.encode_special_tokens = True
    encoder = BatchEncoder(tok)
    assert encoder.word_path, encoder.blocker
    _assert_same(encoder, corpus["texts"])
    _assert_same(encoder, corpus["texts"], add_special_tokens=False)


def test_other_tokenizers_take_the_generic_path_with_the_same_ids(corpus):
    texts = [t for t in corpus["texts"] if t]
    bytelevel = Tokenizer(models.BPE())
    bytelevel.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bytelevel.decoder = decoders.ByteLevel()
    bytelevel.train_from_iterator(
        texts,
        trainers.BpeTrainer(vocab_size=600, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    bytelevel.encode_special_tokens = True
    encoder = BatchEncoder(bytelevel)
    assert not encoder.word_path and "normalizer" in encoder.blocker
    _assert_same(encoder, corpus["texts"])


def test_a_piece_across_a_word_start_or_split_special_tokens_block_the_word_path(corpus):
    spec = json.loads((corpus["tok"] / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    first, second = next(p for p in vocab if len(p) == 1 and p != "▁"), "▁"
    vocab[first + second] = len(vocab)
    spec["model"]["merges"].append([first, second])
    crossing = Tokenizer.from_str(json.dumps(spec))
    crossing.encode_special_tokens = True
    encoder = BatchEncoder(crossing)
    assert not encoder.word_path and repr(first + second) in encoder.blocker
    _assert_same(encoder, corpus["texts"][:50] + EDGE_CASES)
    plain = load_tokenizer(corpus["tok"]).tokenizer
    plain.encode_special_tokens = False  # "</s>" in text would become EOS: only the generic path does that
    encoder = BatchEncoder(plain)
    assert not encoder.word_path and "encode_special_tokens" in encoder.blocker
    _assert_same(encoder, EDGE_CASES)


_ALPHABET = st.sampled_from(list("가나다한국어 ▁\n\t ab<>/s1😀") + ["</s>", "<한국어>", "  ", "\u3000"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.lists(_ALPHABET, max_size=30).map("".join), min_size=1, max_size=12))
def test_word_path_matches_for_any_text(corpus, texts):
    _assert_same(load_tokenizer(corpus["tok"]).encoder, texts)


def test_ragged_take():
    values = np.arange(10)
    assert ragged_take(values, np.array([7, 0, 3]), np.array([2, 0, 3])).tolist() == [7, 8, 3, 4, 5]
    assert ragged_take(values, np.array([], np.int64), np.array([], np.int64)).tolist() == []


def test_add_documents_packs_like_add(tmp_path: Path):
    rng = np.random.default_rng(3)
    docs = [rng.integers(3, 900, rng.integers(0, 60)).astype(np.uint32) for _ in range(200)]
    docs[5] = np.append(docs[5], np.uint32(2))  # already ends with EOS: not doubled
    sources = rng.integers(0, 3, len(docs))
    names = ["ko", "en", "code"]
    kwargs = {"seq_len": 32, "vocab_size": 1000, "eos_id": 2, "rows_per_shard": 7}
    one = TokenShardWriter(tmp_path / "one", **kwargs)
    for d, s in zip(docs, sources):
        one.add(d, source=names[s])
    many = TokenShardWriter(tmp_path / "many", **kwargs)
    for block in (slice(0, 17), slice(17, 120), slice(120, 200)):
        part = docs[block]
        many.add_documents(
            np.concatenate(part), np.array([len(d) for d in part]), sources=sources[block], source_names=names
        )
    m1, m2 = one.close(), many.close()
    assert m1 == m2 and m1["num_skipped_empty_docs"] == sum(len(d) == 0 for d in docs)
    for shard in m1["shards"]:
        assert (tmp_path / "one" / shard["file"]).read_bytes() == (tmp_path / "many" / shard["file"]).read_bytes()
    bad = TokenShardWriter(tmp_path / "bad", **kwargs)
    with pytest.raises(Exception, match="document 1: token id outside"):
        bad.add_documents(
            np.array([5, 6, 1000], np.uint32), np.array([2, 1]), sources=np.array([0, 0]), source_names=names
        )


def test_sliced_and_chunked_arrow_input(corpus):
    import pyarrow as pa

    encoder = load_tokenizer(corpus["tok"]).encoder
    texts = [t for t in corpus["texts"] if t is not None][:80]
    array = pa.array(["앞 문서", *texts, "뒤 문서"], pa.string())
    for sliced in (array.slice(1, len(texts)), array.cast(pa.large_string()).slice(1, len(texts))):
        assert sliced.offset == 1  # an offset into the buffers
        values, lengths = encoder.encode(sliced)
        assert _split(values, lengths) == _reference(encoder.tokenizer, texts)
    chunked = pa.chunked_array([array.slice(1, 30), array.slice(31, len(texts) - 30)])
    values, lengths = encoder.encode(chunked)
    assert _split(values, lengths) == _reference(encoder.tokenizer, texts)
