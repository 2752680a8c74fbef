"""Encode a batch of documents to flat token ids plus per-document lengths, fast.

:class:`BatchEncoder` is what ``hanforge tokenize`` and ``hanforge mix`` call. It returns the
same ids as ``Tokenizer.encode_batch_fast`` (tests compare them document by document), by one of
two paths:

* **word path**, for SentencePiece-layout BPE tokenizers (the ones ``hanforge tokenizer train``
  writes, llama-2 and its vocabulary extensions): normalizer ``Prepend("▁")`` + ``Replace(" ",
  "▁")``, no pre-tokenizer, a BPE model, and no vocabulary piece in which ``▁`` follows another
  character. In such a vocabulary no piece — so no merge — crosses the start of a
  SentencePiece word (a run of ``▁`` and the characters up to the next ``▁``), so BPE over the
  whole document equals BPE over each word on its own. The batch is normalized and cut into
  words with pyarrow/numpy, each *distinct* word is encoded once (Korean web text repeats its
  eojeols: the LibreOffice set has 469k words, 68k distinct), and the ids are gathered back per
  document with numpy. Distinct words go to the Rust tokenizer joined into long strings that a
  ``Metaspace`` split cuts apart again, so the per-call cost of ``Encoding`` objects is paid per
  few thousand words, not per word.
* **generic path**, for every other tokenizer (byte-level BPE with a regex pre-tokenizer,
  WordPiece, Unigram, ...) and for documents containing a non-special added token:
  ``encode_batch_fast`` on the documents.

Written here because the Hugging Face tokenizer has no batch-level word deduplication: its BPE
word cache needs a pre-tokenizer, which the SentencePiece layout has none of, and it still
builds one ``Encoding`` (token strings included) per document.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer, models, pre_tokenizers

SPACE = "▁"
_SPACE_BYTES = SPACE.encode("utf-8")
_JOINED_WORDS = 512  # distinct words per string handed to the Rust tokenizer
_CACHE_WORDS = 500_000  # distinct words remembered across batches (a dict: ~80 MB when full)
_MAX_ADDED_CHECKS = 64  # more non-special added tokens than this: scanning for them costs too much
_SP_NORMALIZERS = (
    [{"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}],
    [{"type": "Replace", "pattern": {"String": " "}, "content": SPACE}, {"type": "Prepend", "prepend": SPACE}],
)


def ragged_take(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([values[s:s + n] for s, n in zip(starts, lengths)])`` without the loop."""
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return values[:0]
    out_starts = np.cumsum(lengths) - lengths
    return values[np.repeat(np.asarray(starts, np.int64) - out_starts, lengths) + np.arange(total)]


def _ids_and_lengths(
    tokenizer: Tokenizer, texts: list[str], *, add_special_tokens: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids as uint32, ids per text) of ``tokenizer.encode_batch_fast(texts)``."""
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=add_special_tokens) if texts else []
    lengths = np.fromiter((len(e.ids) for e in encodings), np.int64, len(encodings))
    values = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.uint32, int(lengths.sum()))
    return values, lengths


def _merge_by_mask(
    mask: np.ndarray, inside: tuple[np.ndarray, np.ndarray], outside: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, lengths) of all items, in order, from those of the items where ``mask`` is true
    (``inside``) and where it is false (``outside``), each as (flat ids, lengths)."""
    (in_ids, in_lens), (out_ids, out_lens) = inside, outside
    lengths = np.zeros(len(mask), np.int64)
    starts = np.zeros(len(mask), np.int64)
    lengths[mask], lengths[~mask] = in_lens, out_lens
    starts[mask] = np.cumsum(in_lens) - in_lens
    starts[~mask] = len(in_ids) + np.cumsum(out_lens) - out_lens
    return ragged_take(np.concatenate([in_ids, out_ids]), starts, lengths), lengths


def _string_buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets starting at 0, UTF-8 bytes) of a large_string array, zero-copy (slices and all)."""
    raw = np.frombuffer(strings.buffers()[1], np.int64)[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    if not len(raw) or data is None:
        return np.zeros(len(strings) + 1, np.int64), np.zeros(0, np.uint8)
    return raw - raw[0], np.frombuffer(data, np.uint8)[raw[0] : raw[-1]]


def _template(post: dict | None) -> tuple[list[int], list[int]] | None:
    """(prefix ids, suffix ids) of a single-sequence post-processor, or None if not supported."""
    if post is None:
        return [], []
    if post.get("type") != "TemplateProcessing":
        return None
    prefix: list[int] = []
    suffix: list[int] = []
    seen_sequence = False
    for item in post.get("single", []):
        if "Sequence" in item:
            if seen_sequence:
                return None
            seen_sequence = True
        elif "SpecialToken" in item:
            special = post.get("special_tokens", {}).get(item["SpecialToken"]["id"])
            if special is None:
                return None
            (suffix if seen_sequence else prefix).extend(special["ids"])
        else:
            return None
    return (prefix, suffix) if seen_sequence else None


def _state(component) -> dict[str, Any] | None:
    return None if component is None else json.loads(component.__getstate__())


def word_path_blocker(tokenizer: Tokenizer, vocab: dict[str, int] | None = None) -> str | None:
    """Why ``tokenizer`` cannot take the word path; None if it can (``vocab``: its model's vocabulary)."""
    normalizer = _state(tokenizer.normalizer) or {}
    if normalizer.get("type") != "Sequence" or normalizer.get("normalizers") not in _SP_NORMALIZERS:
        return "normalizer is not SentencePiece's Prepend('▁') + Replace(' ', '▁')"
    if tokenizer.pre_tokenizer is not None:
        return "has a pre-tokenizer"
    model = tokenizer.model
    if not isinstance(model, models.BPE) or model.dropout or getattr(model, "ignore_merges", False):
        return "model is not a plain BPE (no dropout, no ignore_merges)"
    if model.continuing_subword_prefix or model.end_of_word_suffix:
        return "BPE has subword prefixes or suffixes"
    vocab = tokenizer.get_vocab(with_added_tokens=False) if vocab is None else vocab
    if SPACE not in vocab:
        return "'▁' is not in the vocabulary"
    pieces = pa.array(list(vocab), pa.large_string())
    crossing = pc.filter(pieces, pc.match_substring_regex(pieces, f"[^{SPACE}]{SPACE}"))
    if len(crossing):
        return f"vocabulary piece {crossing[0].as_py()!r} crosses a word start"
    if _template(_state(tokenizer.post_processor)) is None:
        return "post-processor is not a single-sequence template"
    added = [a for a in tokenizer.get_added_tokens_decoder().values() if not a.special]
    if len(added) > _MAX_ADDED_CHECKS:
        return f"{len(added)} non-special added tokens"
    if not tokenizer.encode_special_tokens:
        return "special tokens in the text are split out (encode_special_tokens is off)"
    return None


class BatchEncoder:
    """Encodes batches of documents with ``tokenizer``; threads may share one encoder.

    Set ``encode_special_tokens`` on ``tokenizer`` before: the word path serves only tokenizers
    that encode special-token strings in the text as plain text.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        vocab = tokenizer.get_vocab(with_added_tokens=False)
        self.blocker = word_path_blocker(tokenizer, vocab)
        self.word_path = self.blocker is None
        if not self.word_path:
            return
        self._prefix, self._suffix = (np.asarray(x, np.uint32) for x in _template(_state(tokenizer.post_processor)))
        # checked on normalized text: the content itself (normalized tokens) and with spaces as ▁
        added = sorted(
            {
                v
                for a in tokenizer.get_added_tokens_decoder().values()
                if not a.special
                for v in (a.content, a.content.replace(" ", SPACE))
            }
        )
        self._added = "|".join(map(re.escape, added)) or None  # one RE2 scan, not one per token
        # the same BPE model (shared, not copied) without normalizer, post-processor or added
        # tokens, for words already normalized: one word per input string, or with a Metaspace
        # split, many words joined into one string
        self._word = Tokenizer(tokenizer.model)
        self._joined_words = Tokenizer(tokenizer.model)
        self._joined_words.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=SPACE, prepend_scheme="never", split=True
        )
        ids = np.fromiter(vocab.values(), np.int64, len(vocab))
        self._starts_word = np.zeros(int(ids.max()) + 1, bool)
        self._starts_word[
            ids[pc.starts_with(pa.array(list(vocab), pa.large_string()), SPACE).to_numpy(zero_copy_only=False)]
        ] = True
        # the word cache (see _lookup): distinct words, and their ids as pool + start + length
        self._cache_lock = threading.Lock()
        self._known: dict[str, int] = {}
        self._known_ids = np.zeros(0, np.uint32)
        self._known_starts = self._known_lens = np.zeros(0, np.int64)

    def encode(
        self, texts: pa.Array | pa.ChunkedArray | list[str | None], *, add_special_tokens: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """(flat ids as uint32, ids per document as int64) for ``texts`` (None counts as "")."""
        if isinstance(texts, list):
            texts = pa.array(texts, pa.large_string())
        elif isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        texts = pc.fill_null(texts.cast(pa.large_string()), "")
        if not self.word_path:
            return _ids_and_lengths(self.tokenizer, texts.to_pylist(), add_special_tokens=add_special_tokens)
        norm = pc.replace_substring(texts, " ", SPACE)
        norm = pc.if_else(
            pc.greater(pc.binary_length(norm), 0),
            pc.binary_join_element_wise(pa.scalar(SPACE, pa.large_string()), norm, pa.scalar("", pa.large_string())),
            norm,
        )
        slow = pc.match_substring_regex(norm, self._added) if self._added else None
        if slow is not None and pc.any(slow).as_py():
            return _merge_by_mask(
                slow.to_numpy(zero_copy_only=False),
                _ids_and_lengths(
                    self.tokenizer, pc.filter(texts, slow).to_pylist(), add_special_tokens=add_special_tokens
                ),
                self._encode_words(pc.filter(norm, pc.invert(slow)), add_special_tokens),
            )
        return self._encode_words(norm, add_special_tokens)

    def _encode_words(self, norm: pa.Array, add_special_tokens: bool) -> tuple[np.ndarray, np.ndarray]:
        """The word path on normalized documents (large_string)."""
        n_docs = len(norm)
        offsets, data = _string_buffers(norm)
        # a word starts at every ▁ not preceded by a ▁ of the same document, and at each document start
        n = len(data)
        space = np.zeros(n, bool)
        if n >= 3:
            space[:-2] = (
                (data[:-2] == _SPACE_BYTES[0]) & (data[1:-1] == _SPACE_BYTES[1]) & (data[2:] == _SPACE_BYTES[2])
            )
        doc_start = np.zeros(n + 1, bool)
        doc_start[offsets[:-1]] = True
        after_space = np.zeros(n, bool)
        after_space[3:] = space[:-3]
        word_starts = np.flatnonzero((space & ~(after_space & ~doc_start[:n])) | doc_start[:n])
        words = pa.LargeStringArray.from_buffers(
            len(word_starts), pa.py_buffer(np.append(word_starts, n)), pa.py_buffer(data)
        )
        encoded = pc.dictionary_encode(words)
        word_ids, word_starts_in_ids, word_lens = self._lookup(encoded.dictionary)
        occurrence = encoded.indices.to_numpy()
        occ_lens = word_lens[occurrence]
        doc_of_word = np.searchsorted(offsets, word_starts, side="right") - 1
        lengths = np.bincount(doc_of_word, weights=occ_lens, minlength=n_docs).astype(np.int64)
        values = ragged_take(word_ids, word_starts_in_ids[occurrence], occ_lens)
        if add_special_tokens and (len(self._prefix) or len(self._suffix)):
            # segments per document: prefix, content, suffix
            p, s = len(self._prefix), len(self._suffix)
            pool = np.concatenate([values, self._prefix, self._suffix])
            seg_starts = np.stack(
                [np.full(n_docs, len(values)), np.cumsum(lengths) - lengths, np.full(n_docs, len(values) + p)], axis=1
            ).ravel()
            seg_lens = np.stack([np.full(n_docs, p), lengths, np.full(n_docs, s)], axis=1).ravel()
            return ragged_take(pool, seg_starts, seg_lens), lengths + p + s
        return values, lengths

    def _lookup(self, words: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pool of ids, start in the pool, ids per word) for distinct words, through the word cache.

        The cache (a dict from word to its slot in flat id arrays) keeps the words of earlier
        batches, up to ``_CACHE_WORDS`` (then it starts over), so a word is encoded once per
        process rather than once per batch. It changes speed only: a word's ids do not depend on
        what else was encoded. Threads look words up in a snapshot (slots added after it count as
        unknown) and add their new words under a lock; two threads may both encode a word.
        """
        with self._cache_lock:
            known, k_ids, k_starts, k_lens = self._known, self._known_ids, self._known_starts, self._known_lens
        texts = words.to_pylist()
        pos = np.fromiter((known.get(w, -1) for w in texts), np.int64, len(texts))
        pos[pos >= len(k_lens)] = -1
        new = pos < 0
        new_words = words.filter(pa.array(new))
        new_ids, new_lens = self._encode_distinct(new_words)
        new_starts = np.cumsum(new_lens) - new_lens
        pool = np.concatenate([k_ids, new_ids])
        starts = np.empty(len(words), np.int64)
        lens = np.empty(len(words), np.int64)
        starts[~new], lens[~new] = k_starts[pos[~new]], k_lens[pos[~new]]
        starts[new], lens[new] = len(k_ids) + new_starts, new_lens
        with self._cache_lock:
            if len(self._known_lens) + len(new_lens) > _CACHE_WORDS:
                self._known = {}
                self._known_ids, self._known_starts, self._known_lens = k_ids[:0], k_starts[:0], k_lens[:0]
            slot, base = len(self._known_lens), len(self._known_ids)
            self._known_ids = np.concatenate([self._known_ids, new_ids])
            self._known_starts = np.concatenate([self._known_starts, base + new_starts])
            self._known_lens = np.concatenate([self._known_lens, new_lens])
            self._known.update(zip([texts[i] for i in np.flatnonzero(new)], range(slot, slot + len(new_lens))))
        return pool, starts, lens

    def _encode_distinct(self, words: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Ids (flat, in ``words`` order) and ids per word for distinct normalized words."""
        # words made of one ▁ and other characters are joined and cut apart again by Metaspace;
        # the rest (several ▁ in front, or only ▁) are encoded one by one
        lone = pc.or_(pc.starts_with(words, SPACE * 2), pc.match_substring_regex(words, f"^{SPACE}+$"))
        joinable = pc.filter(words, pc.invert(lone))
        j_offsets, j_data = _string_buffers(joinable)
        strings = [
            j_data[j_offsets[i] : j_offsets[min(i + _JOINED_WORDS, len(joinable))]].tobytes().decode("utf-8")
            for i in range(0, len(joinable), _JOINED_WORDS)
        ]
        encodings = self._joined_words.encode_batch_fast(strings, add_special_tokens=False)
        j_ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.uint32)
        j_first = np.flatnonzero(self._starts_word[j_ids])
        if len(j_first) != len(joinable):
            raise AssertionError(f"word path: {len(j_first)} word starts for {len(joinable)} words")
        j_lens = np.diff(np.append(j_first, len(j_ids)))
        lone_ids = _ids_and_lengths(self._word, pc.filter(words, lone).to_pylist(), add_special_tokens=False)
        return _merge_by_mask(lone.to_numpy(zero_copy_only=False), lone_ids, (j_ids, j_lens))
