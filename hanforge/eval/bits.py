"""Bits per character (and per UTF-8 byte) of a causal LM: a tokenizer-independent loss.

The negative log-likelihood of a text in bits does not depend on how the model splits it into
tokens, so dividing it by the text's characters (or UTF-8 bytes) compares models with different
vocabularies fairly, and a model before and after vocabulary extension too. Per document:

* ids = [prefix] + tokenizer(text) without special tokens, where prefix is the tokenizer's BOS
  (else its EOS, the usual document separator); every text token is a target exactly once, so
  the bits are those of the whole text, and the characters counted are ``len(text)``.
* Texts longer than ``window`` tokens are scored with a sliding window moved by ``stride``: each
  window scores only the targets no earlier window scored, each with at least ``window - stride``
  tokens of context (all of them in the first window); ``stride == window`` keeps one token of
  context, so even then no token goes unscored (the first token of a window is never a target).
* Windows of all documents are batched (right padding under an attention mask, longest first);
  log-softmax is taken in float32 over the scored positions only.

``num_docs_not_roundtrip`` counts documents whose tokens do not decode back to the same text
(a normalising tokenizer): the bits are then those of the normalised text, still divided by the
characters of the given one, so the figure is reported beside the result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from hanforge.errors import InputError


@dataclasses.dataclass
class BitsResult:
    """What :func:`bits_per_char` measured."""

    num_docs: int
    num_chars: int
    num_bytes: int
    """UTF-8 bytes of the scored text."""
    num_tokens: int
    """Target tokens scored (the prefix token is context only)."""
    total_bits: float
    """Sum of -log2 p over every target token."""
    window: int
    stride: int
    num_windows: int
    num_docs_not_roundtrip: int = 0

    @property
    def bits_per_char(self) -> float:
        return self.total_bits / self.num_chars

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / self.num_bytes

    @property
    def bits_per_token(self) -> float:
        return self.total_bits / self.num_tokens

    @property
    def chars_per_token(self) -> float:
        return self.num_chars / self.num_tokens

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(
            bits_per_char=self.bits_per_char,
            bits_per_byte=self.bits_per_byte,
            bits_per_token=self.bits_per_token,
            chars_per_token=self.chars_per_token,
        )
        return out


def score_windows(num_ids: int, *, window: int, stride: int) -> list[tuple[int, int, int]]:
    """``(begin, end, first_target)`` windows over ``num_ids`` ids (prefix included).

    Window ``ids[begin:end]`` scores targets ``first_target .. end-1``; together the windows score
    positions ``1 .. num_ids-1`` exactly once, in order.
    """
    if not 1 <= stride <= window:
        raise InputError(f"stride must be in [1, window={window}], got {stride}")
    if window < 2:
        raise InputError(f"window must be at least 2 tokens, got {window}")
    out: list[tuple[int, int, int]] = []
    overlap = max(1, window - stride)  # context kept from the previous window (>= 1 token)
    first = 1
    while first < num_ids:
        begin = 0 if first == 1 else first - overlap
        end = min(begin + window, num_ids)
        out.append((begin, end, first))
        first = end
    return out


def _prefix_id(tokenizer) -> int:
    for attr in ("bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    raise InputError("the tokenizer has neither a BOS nor an EOS token to start each document with")


def bits_per_char(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    window: int = 1024,
    stride: int = 512,
    batch_size: int = 8,
    device: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BitsResult:
    """Bits per character of ``model`` (a transformers causal LM) on ``texts``; see the module doc.

    ``tokenizer`` is the model's Hugging Face tokenizer. ``device`` defaults to the model's.
    ``progress(done, total)`` is called after each batch of windows.
    """
    import torch

    if not texts:
        raise InputError("no texts to score")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    dev = torch.device(device) if device else next(model.parameters()).device
    prefix = _prefix_id(tokenizer)
    docs: list[list[int]] = []
    not_roundtrip = 0
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    for text, ids in zip(texts, encoded, strict=True):
        if tokenizer.decode(ids, clean_up_tokenization_spaces=False) != text:
            not_roundtrip += 1
        docs.append([prefix, *ids])
    jobs = [(d, *w) for d, ids in enumerate(docs) for w in score_windows(len(ids), window=window, stride=stride)]
    jobs.sort(key=lambda j: (j[2] - j[1], -j[0]), reverse=True)  # longest first, then document order
    total_bits = 0.0
    num_targets = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(jobs), batch_size):
                batch = jobs[start : start + batch_size]
                width = max(end - begin for _, begin, end, _ in batch)
                input_ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, (d, begin, end, _) in enumerate(batch):
                    input_ids[row, : end - begin] = torch.tensor(docs[d][begin:end])
                    mask[row, : end - begin] = 1
                logits = model(input_ids=input_ids.to(dev), attention_mask=mask.to(dev), use_cache=False).logits
                for row, (d, begin, end, first) in enumerate(batch):
                    # logits at position p predict id p+1 (positions relative to the window)
                    sel = logits[row, first - 1 - begin : end - 1 - begin].float()
                    targets = torch.tensor(docs[d][first:end], device=sel.device)
                    logp = torch.log_softmax(sel, dim=-1).gather(1, targets[:, None])
                    total_bits -= float(logp.double().sum()) / math.log(2)
                    num_targets += end - first
                del logits
                if progress:
                    progress(min(start + batch_size, len(jobs)), len(jobs))
    finally:
        model.train(was_training)
    expected = sum(len(ids) - 1 for ids in docs)
    assert num_targets == expected, (num_targets, expected)  # every token scored exactly once
    num_chars = sum(len(t) for t in texts)
    if num_chars == 0 or num_targets == 0:
        raise InputError("the texts are empty")
    return BitsResult(
        num_docs=len(texts),
        num_chars=num_chars,
        num_bytes=sum(len(t.encode("utf-8")) for t in texts),
        num_tokens=num_targets,
        total_bits=total_bits,
        window=window,
        stride=stride,
        num_windows=len(jobs),
        num_docs_not_roundtrip=not_roundtrip,
    )
