"""Document-masked attention (hanforge.train.attention): a packed row's logits equal each document
run alone, for every registered implementation, on tiny random Qwen2 and Llama models (CPU).

The varlen kernel itself is CUDA-only; here a per-segment SDPA reference stands in for it so the
code around it (segment bounds from position_ids, flattening, GQA, reshapes) is checked on CPU.
bench/train_gpu_masked.py checks the real kernels against the same per-document reference on the GPU.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_helpers import one_torch_thread  # noqa: E402,F401

from hanforge.train import attention  # noqa: E402

DOC_LENS = [(5, 9, 2), (16,)]  # two rows of 16 tokens: three documents, then one
SEQ = 16


def tiny_model(kind: str, implementation: str):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    attention.register()
    common = dict(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        attn_implementation=implementation,
    )
    torch.manual_seed(0)
    if kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**common))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common))
    return model.eval()


def packed_batch():
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 97, (len(DOC_LENS), SEQ), generator=gen)
    pos = torch.cat([torch.cat([torch.arange(n) for n in row])[None] for row in DOC_LENS])
    return ids, pos


def per_document_logits(model, ids):
    """Reference: every document as its own sequence (plain causal attention, no packing)."""
    rows = []
    for r, lens in enumerate(DOC_LENS):
        start, parts = 0, []
        for n in lens:
            out = model(input_ids=ids[r : r + 1, start : start + n], use_cache=False).logits
            parts.append(out[0])
            start += n
        rows.append(torch.cat(parts))
    return torch.stack(rows)


def reference_varlen(q, k, v, cu_q, cu_k, max_q, max_k, *, scale, window_size, enable_gqa):
    """Per-segment causal SDPA with the varlen_attn calling convention ([T, H, D] tensors)."""
    assert tuple(window_size) == (-1, 0)
    assert int((cu_q[1:] - cu_q[:-1]).max()) == max_q
    if enable_gqa:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    out = torch.empty_like(q)
    bounds = cu_q.tolist()
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        seg = [x[a:b].transpose(0, 1)[None] for x in (q, k, v)]
        out[a:b] = torch.nn.functional.scaled_dot_product_attention(*seg, is_causal=True, scale=scale)[0].transpose(
            0, 1
        )
    return out


@pytest.mark.parametrize(
    ("kind", "implementation"),
    [("qwen2", "hanforge"), ("qwen2", "hanforge_flex"), ("qwen2", "hanforge_varlen"), ("llama", "hanforge_varlen")],
)
def test_packed_logits_equal_documents_alone(kind, implementation, monkeypatch):
    model = tiny_model(kind, implementation)
    ids, pos = packed_batch()
    with torch.no_grad():
        expected = per_document_logits(model, ids)
    calls = []
    if implementation == "hanforge_varlen":
        # the CUDA kernel's plumbing on CPU: a reference kernel, and the mask builder told to leave
        # the segments to the attention (it does so for fp16/bf16 CUDA batches only)
        from transformers.masking_utils import AttentionMaskInterface

        def counting(*a, **k):
            calls.append(a[3].tolist())
            return reference_varlen(*a, **k)

        monkeypatch.setattr(attention, "_varlen_takes", lambda q: True)
        monkeypatch.setattr(attention, "VARLEN_KERNEL", counting)
        monkeypatch.setattr(attention, "_SEGMENTS", attention._LastSegments())
        monkeypatch.setitem(AttentionMaskInterface._global_mapping, implementation, lambda **kw: None)
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits
    torch.testing.assert_close(packed, expected, rtol=1e-4, atol=1e-4)
    if implementation == "hanforge_varlen":
        # one segment list per layer, every layer the same: the 4 documents over the flattened batch
        assert calls == [[0, 5, 14, 16, 32]] * 2


def test_without_document_mask_the_logits_differ():
    """The check above can fail: plain causal attention over the packed row gives other logits."""
    model = tiny_model("qwen2", "sdpa")
    ids, pos = packed_batch()
    with torch.no_grad():
        expected = per_document_logits(model, ids)
        leaky = model(input_ids=ids, position_ids=pos, attention_mask=torch.ones_like(ids), use_cache=False).logits
    assert not torch.allclose(leaky[0], expected[0], atol=1e-3)  # row 0 holds three documents
    torch.testing.assert_close(leaky[1], expected[1], rtol=1e-4, atol=1e-4)  # row 1 is one document


def test_gradients_match_documents_alone():
    """Training path: the loss gradient through the packed row equals the per-document one."""
    model = tiny_model("qwen2", "hanforge").train()
    ids, pos = packed_batch()
    model(input_ids=ids, position_ids=pos, use_cache=False).logits.square().mean().backward()
    packed = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    per_document_logits(model, ids).square().mean().backward()
    for a, p in zip(packed, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-5)


def test_segment_bounds_from_position_ids():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]])
    cu, longest = attention.cu_seqlens_from_position_ids(pos)
    assert cu.tolist() == [0, 3, 5, 6, 12] and cu.dtype == torch.int32 and longest == 6
    # a row that does not start at position 0 still starts a segment
    cu, longest = attention.cu_seqlens_from_position_ids(torch.tensor([[4, 5, 0, 1], [2, 3, 4, 5]]))
    assert cu.tolist() == [0, 2, 4, 8] and longest == 4


def test_varlen_compat_expands_heads_for_old_torch(monkeypatch):
    """On a torch whose varlen_attn has no enable_gqa (2.11), key/value heads are repeated."""
    seen = {}

    def fake_varlen(q, k, v, cu_q, cu_k, max_q, max_k, *, return_aux=None, scale=None, window_size=(-1, -1)):
        seen.update(heads=(q.shape[1], k.shape[1], v.shape[1]), window=window_size)
        return q

    import torch.nn.attention.varlen as varlen_module

    monkeypatch.setattr(varlen_module, "varlen_attn", fake_varlen)
    monkeypatch.setattr(attention, "_varlen_signature", lambda: frozenset(["window_size", "scale"]))
    q, kv = torch.zeros(6, 4, 8), torch.zeros(6, 2, 8)
    cu = torch.tensor([0, 6], dtype=torch.int32)
    attention.varlen_attn_compat(q, kv, kv, cu, cu, 6, 6, window_size=(-1, 0), enable_gqa=True)
    assert seen == {"heads": (4, 4, 4), "window": (-1, 0)}
    with pytest.raises(ValueError, match="enable_gqa"):
        attention.varlen_attn_compat(q, kv, kv, cu, cu, 6, 6, window_size=(-1, 0))


def test_attn_implementation_names():
    assert attention.attn_implementation("auto", device="cpu") == "sdpa"
    assert attention.attn_implementation("auto", device="cuda") == "hanforge"
    assert attention.attn_implementation("varlen", device="cpu") == "hanforge_varlen"
    assert attention.attn_implementation("flex", device="cuda") == "hanforge_flex"
    with pytest.raises(ValueError, match="not one of"):
        attention.attn_implementation("fast", device="cpu")
