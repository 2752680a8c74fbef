"""Builders for the evaluation tests: a small byte-level BPE tokenizer and a tiny random-init
Qwen2 built in the test (no hub downloads)."""

from __future__ import annotations

from pathlib import Path


def tiny_hf_tokenizer(texts: list[str], *, vocab_size: int = 400):
    """A byte-level BPE trained on ``texts`` as a transformers fast tokenizer (BOS <s>, EOS </s>)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=["<pad>", "<s>", "</s>"], show_progress=False
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


def tiny_qwen2(vocab_size: int, *, seed: int = 0, zero_head: bool = False, hidden_size: int = 32, tie: bool = False):
    """A random-init 2-layer Qwen2 (``hidden_size``, MLP twice as wide, 16 positions per hidden
    unit); ``zero_head`` makes every next-token distribution uniform. Used by the eval and the
    training tests."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=16 * hidden_size,
        tie_word_embeddings=tie,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = Qwen2ForCausalLM(config).eval()
    if zero_head:
        with torch.no_grad():
            model.lm_head.weight.zero_()
    return model


def save_model_folder(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
