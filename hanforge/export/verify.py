"""Check an export against its source model: next-token logits, top-k agreement and bits/char.

Both models score the *same* token ids (the source tokenizer's) of Korean text, window by window;
per format we report the largest and mean absolute logit difference, the share of positions
whose top-1 token agrees, the mean overlap of the top-5 sets, the mean KL divergence
(source ‖ export, nats) and bits per character of the text under each model.

bits/char = Σ −log₂ p(token | preceding tokens of its window) / number of characters, where each
window's first token is not scored (it has no context). It is computed here for verification only;
the evaluation layer has its own measure, and the two should be unified.

A scorer is any callable ``ids -> logits [len(ids), vocab]`` (float32 torch tensor):
:func:`transformers_scorer` (a model folder, or a GGUF file through transformers' GGUF loader,
which dequantises to float32: it measures the weights' quantisation, not llama.cpp's kernels) and
:func:`llama_cpp_scorer` (llama.cpp itself, when llama-cpp-python is installed).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

Scorer = Callable[[Sequence[int]], torch.Tensor]
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample" / "debian-faq-ko"


@dataclasses.dataclass
class Agreement:
    """How closely an export follows its source on the verification text."""

    format: str
    num_tokens: int
    """Scored positions (all windows)."""
    num_chars: int
    max_abs_logit_diff: float
    mean_abs_logit_diff: float
    top1_agreement: float
    top5_overlap: float
    mean_kl_nats: float
    bits_per_char: float
    source_bits_per_char: float

    @property
    def bits_per_char_delta(self) -> float:
        return self.bits_per_char - self.source_bits_per_char

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "bits_per_char_delta": self.bits_per_char_delta}


def korean_sample_text(*, max_chars: int = 4000, folder: Path = SAMPLE_DIR) -> list[str]:
    """Korean paragraphs of the embedded Debian FAQ sample (main-content text, lines with Hangul),
    up to ``max_chars`` characters in all; deterministic."""
    from resiliparse.extract.html2text import extract_plain_text

    out: list[str] = []
    total = 0
    for path in sorted(folder.glob("*.html")):
        text = extract_plain_text(path.read_text(encoding="utf-8", errors="replace"), main_content=True)
        lines = [x.strip() for x in text.splitlines() if len(_HANGUL.findall(x)) >= 10]
        for line in lines:
            if total + len(line) > max_chars:
                return out
            out.append(line)
            total += len(line)
    return out


def token_windows(tokenizer, texts: Sequence[str], *, window: int = 256) -> tuple[list[list[int]], int]:
    """The texts joined by newlines, tokenised once and cut into windows of ``window`` ids;
    returns ``(windows, num_chars)``."""
    text = "\n".join(texts)
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    windows = [ids[i : i + window] for i in range(0, len(ids), window)]
    return [w for w in windows if len(w) >= 2], len(text)


def transformers_scorer(folder: str | Path, *, gguf_file: str | None = None) -> Scorer:
    """Scorer of a Hugging Face model folder (float32), or of ``folder/gguf_file`` via transformers."""
    from transformers import AutoModelForCausalLM

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs).eval()

    def score(ids: Sequence[int]) -> torch.Tensor:
        with torch.no_grad():  # a bitsandbytes model sits on the GPU: inputs go there, logits come back
            return model(input_ids=torch.tensor([list(ids)], device=model.device)).logits[0].float().cpu()

    return score


def llama_cpp_scorer(gguf_path: str | Path, *, n_ctx: int = 512, n_threads: int | None = None) -> Scorer:
    """Scorer running the GGUF in llama.cpp (llama-cpp-python), logits of every position."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(gguf_path), n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=n_threads, n_batch=n_ctx
    )

    def score(ids: Sequence[int]) -> torch.Tensor:
        llm.reset()
        llm.eval(list(ids))
        return torch.from_numpy(llm.scores[: len(ids)].copy()).float()

    return score


def bits_per_char(scorer: Scorer, windows: Sequence[Sequence[int]], num_chars: int) -> float:
    """bits/char of one model on the windows (see the module docstring)."""
    bits = 0.0
    for ids in windows:
        logp = torch.log_softmax(scorer(ids)[:-1], dim=-1)
        bits -= logp.gather(1, torch.tensor(list(ids[1:]))[:, None]).sum().item() / math.log(2)
    return bits / max(1, num_chars)


def compare(
    source: Scorer, export: Scorer, windows: Sequence[Sequence[int]], *, num_chars: int, name: str
) -> Agreement:
    """Score the windows with both models and summarise their agreement."""
    n = 0
    max_abs = sum_abs = top1 = top5 = kl = bits_src = bits_exp = 0.0
    for ids in windows:
        a, b = source(ids), export(ids)
        if a.shape != b.shape:
            vocab = min(a.shape[-1], b.shape[-1])  # a GGUF may pad the vocabulary
            a, b = a[:, :vocab], b[:, :vocab]
        diff = (a - b).abs()
        max_abs = max(max_abs, diff.max().item())
        sum_abs += diff.mean(dim=-1).sum().item()
        top1 += (a.argmax(-1) == b.argmax(-1)).sum().item()
        ta, tb = a.topk(5, dim=-1).indices, b.topk(5, dim=-1).indices
        top5 += (ta[:, :, None] == tb[:, None, :]).any(-1).float().mean(-1).sum().item()
        la, lb = torch.log_softmax(a, -1), torch.log_softmax(b, -1)
        kl += (la.exp() * (la - lb)).sum(-1).sum().item()
        target = torch.tensor(list(ids[1:]))[:, None]
        bits_src -= la[:-1].gather(1, target).sum().item() / math.log(2)
        bits_exp -= lb[:-1].gather(1, target).sum().item() / math.log(2)
        n += len(ids)
    return Agreement(
        format=name,
        num_tokens=n,
        num_chars=num_chars,
        max_abs_logit_diff=round(max_abs, 6),
        mean_abs_logit_diff=round(sum_abs / max(1, n), 6),
        top1_agreement=round(top1 / max(1, n), 6),
        top5_overlap=round(top5 / max(1, n), 6),
        mean_kl_nats=round(kl / max(1, n), 8),
        bits_per_char=round(bits_exp / max(1, num_chars), 6),
        source_bits_per_char=round(bits_src / max(1, num_chars), 6),
    )


def gguf_vocab_mismatches(gguf_path: str | Path, tokenizer, *, limit: int = 5) -> list[str]:
    """Ids whose token string in the GGUF differs from the source tokenizer's (first ``limit``).

    An extended Korean vocabulary must survive conversion token for token; a mismatch means a
    stale ``tokenizer.model`` or a wrong vocabulary path was used.
    """
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))
    field = reader.fields.get("tokenizer.ggml.tokens")
    if field is None:
        return ["the GGUF has no tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]
    source = {i: t for t, i in tokenizer.get_vocab().items()}
    out = []
    for i in range(len(source)):
        want = source.get(i)
        got = tokens[i] if i < len(tokens) else None
        if want is not None and got != want:
            out.append(f"id {i}: {want!r} in the tokenizer, {got!r} in the GGUF")
            if len(out) >= limit:
                break
    return out
