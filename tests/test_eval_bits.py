"""Bits per character against hand computations: a uniform model (log2 V bits per token, every
token scored exactly once whatever the window), the model's own loss on one window, batching
and sliding windows that cover every target once."""

from __future__ import annotations

import math

import pytest
import torch
from eval_helpers import save_model_folder, tiny_hf_tokenizer, tiny_qwen2
from train_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from hanforge.errors import InputError
from hanforge.eval.bits import bits_per_char, score_windows
from hanforge.eval.models import load_causal_lm
from hanforge.eval.texts import read_eval_texts

TEXTS = [
    "대한민국의 수도는 서울이다. 서울에는 많은 사람이 산다.",
    "LibreOffice 도움말: 셀을 선택하고 서식 메뉴에서 셀 서식을 고르십시오. " * 6,
    "데비안은 자유 운영체제입니다.",
]


@pytest.fixture(scope="module")
def tok():
    return tiny_hf_tokenizer(TEXTS * 3, vocab_size=320)


def test_windows_cover_each_target_once():
    for n in range(1, 40):
        for window in (2, 3, 5, 8):
            for stride in range(1, window + 1):
                targets = [
                    t for _, end, first in score_windows(n, window=window, stride=stride) for t in range(first, end)
                ]
                assert targets == list(range(1, n))
                for begin, end, first in score_windows(n, window=window, stride=stride):
                    assert end - begin <= window and begin < first
                    if begin > 0:  # every later window keeps at least window - stride tokens of context
                        assert first - begin >= max(1, window - stride)
    with pytest.raises(InputError):
        score_windows(10, window=4, stride=5)


def test_uniform_model_is_log2_vocab_bits_per_token(tok):
    vocab = len(tok)
    model = tiny_qwen2(vocab, zero_head=True)
    num_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in TEXTS)
    num_chars = sum(len(t) for t in TEXTS)
    expected = num_tokens * math.log2(vocab) / num_chars  # by hand
    for window, stride, batch in ((512, 512, 8), (16, 5, 3), (7, 7, 1)):
        r = bits_per_char(model, tok, TEXTS, window=window, stride=stride, batch_size=batch)
        assert r.num_tokens == num_tokens and r.num_chars == num_chars
        assert r.num_bytes == sum(len(t.encode()) for t in TEXTS)
        assert r.bits_per_char == pytest.approx(expected, rel=1e-6)
        assert r.bits_per_token == pytest.approx(math.log2(vocab), rel=1e-6)
        assert r.num_docs_not_roundtrip == 0


def test_one_window_equals_the_models_own_loss(tok):
    model = tiny_qwen2(len(tok), seed=3)
    text = TEXTS[1]
    ids = torch.tensor([[tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]])
    with torch.no_grad():
        loss = float(model(input_ids=ids, labels=ids).loss)  # mean nats over ids[1:]
    expected = loss * (ids.shape[1] - 1) / math.log(2) / len(text)
    r = bits_per_char(model, tok, [text], window=512, stride=256)
    assert r.bits_per_char == pytest.approx(expected, rel=1e-5)


def test_batching_and_padding_do_not_change_the_result(tok):
    model = tiny_qwen2(len(tok), seed=4)
    one = bits_per_char(model, tok, TEXTS, window=12, stride=4, batch_size=1)
    many = bits_per_char(model, tok, TEXTS, window=12, stride=4, batch_size=5)
    assert many.total_bits == pytest.approx(one.total_bits, rel=1e-5)
    assert many.num_windows == one.num_windows > len(TEXTS)
    # a longer context can only be judged by the model, but the targets and characters are the same
    full = bits_per_char(model, tok, TEXTS, window=512, stride=512)
    assert (full.num_tokens, full.num_chars) == (one.num_tokens, one.num_chars)


def test_loading_a_saved_folder_and_text_budget(tok, tmp_path):
    folder = save_model_folder(tiny_qwen2(len(tok), seed=5), tok, tmp_path / "m")
    model, loaded_tok = load_causal_lm(folder)
    (tmp_path / "a.txt").write_text(TEXTS[0], encoding="utf-8")
    (tmp_path / "b.txt").write_text(TEXTS[1], encoding="utf-8")
    texts = read_eval_texts([tmp_path], max_chars=len(TEXTS[0]) + 10)
    assert texts == [TEXTS[0], TEXTS[1][:10]]
    r = bits_per_char(model, loaded_tok, texts, window=32, stride=16)
    assert r.num_chars == len(TEXTS[0]) + 10
    with pytest.raises(InputError):
        load_causal_lm(tmp_path / "missing")


def test_gguf_spm_bpe_vocabulary_is_repaired_to_bpe(tmp_path):
    """A SentencePiece-BPE vocabulary stored as Unigram with rank scores splits into characters;
    the repair gives the BPE segmentation (the Gemma 3 GGUF case)."""
    import json

    from tokenizers import Tokenizer

    from hanforge.eval.models import repair_spm_bpe_tokenizer

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = [["<pad>", -1000.0], ["<eos>", -1000.0], ["<unk>", -1000.0]]
    pieces += [[p, -float(i + 1)] for i, p in enumerate([*letters, "ab", "abc", "xy"])]
    data = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": p,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, (p, _) in enumerate(pieces[:3])
        ],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": pieces, "byte_fallback": False},
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert Tokenizer.from_file(str(path)).encode("abcxy").tokens == ["a", "b", "c", "xy"]  # rank scores: chars win
    assert repair_spm_bpe_tokenizer(path)
    assert Tokenizer.from_file(str(path)).encode("abcxy").tokens == ["abc", "xy"]
    assert not repair_spm_bpe_tokenizer(path)  # already BPE


def test_gguf_to_folder_copies_a_converted_tokenizer_and_drops_the_gguf_config(tok, tmp_path, monkeypatch):
    """``tokenizer_from``: the GGUF's weights with the given folder's tokenizer (the slow vocabulary
    conversion skipped); the GGUF ``quantization_config`` is not saved (a folder carrying it is
    treated as quantized, and a model loaded from it cannot be saved: the merged export failed)."""
    import json

    from transformers import AutoModelForCausalLM

    from hanforge.eval.models import gguf_to_folder

    source = tiny_qwen2(len(tok), seed=6)
    source.config.quantization_config = {"quant_method": "gguf", "dequantize": False, "gguf_file": "m.gguf"}
    asked = []

    def from_gguf(folder, **kwargs):  # stands in for transformers' GGUF reader
        asked.append(kwargs.get("gguf_file"))
        return source

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_gguf)
    tok_folder = tmp_path / "tok"
    tok.save_pretrained(tok_folder)
    gguf = tmp_path / "g" / "m.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    out = gguf_to_folder(gguf, tmp_path / "out", dtype="float32", tokenizer_from=tok_folder)
    monkeypatch.undo()
    assert asked == ["m.gguf"]
    assert "quantization_config" not in json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert (out / "tokenizer.json").read_bytes() == (tok_folder / "tokenizer.json").read_bytes()
    model, _ = load_causal_lm(out, dtype="float32")
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    with pytest.raises(InputError):
        gguf_to_folder(gguf, tmp_path / "out2", tokenizer_from=tmp_path / "nothing")
