"""Model backends behind ``hanforge serve``: transformers (any model folder, CPU or GPU) and
llama.cpp (GGUF, in process through llama-cpp-python); vLLM runs as its own server
(:func:`vllm_command`).

A backend answers OpenAI request bodies with OpenAI response dicts (or, for ``stream``, an
iterator of chunk dicts). The transformers backend renders chats with the template the model was
trained with (Korean Alpaca or the tokenizer's chat template) and decodes greedily (temperature
0) or by sampling, one token at a time with the KV cache, so it can stream and stop on stop
strings; llama-cpp-python's own OpenAI-shaped methods are used as they are.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hanforge.errors import ExportError
from hanforge.export.chat_template import (
    ALPACA_KO_CHAT_TEMPLATE,
    chat_template_for,
    training_template,
)
from hanforge.export.source import load_tokenizer


def _param(body: dict, key: str, default, kind):
    value = body.get(key, default)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"'{key}' must be {kind.__name__}, got {value!r}")
    return value


class TransformersBackend:
    """A Hugging Face model folder (or a GGUF file dequantised by transformers) served in process."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        template: str,
        name: str,
        gguf_file: str | None = None,
        tokenizer_dir: str | Path | None = None,
        device: str = "cpu",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.name = name
        self.device = device
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        dtype = torch.float32 if device == "cpu" else torch.bfloat16
        self.model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype, **kwargs).to(device).eval()
        self.tokenizer = load_tokenizer(tokenizer_dir or model_dir)
        self.template = template
        self.chat_template = chat_template_for(template, self.tokenizer)

    # ---- prompts
    def chat_prompt(self, messages: list[dict[str, Any]]) -> tuple[str, list[int]]:
        """The rendered prompt and its ids (Alpaca prompts get the tokenizer's BOS as in training)."""
        if not self.chat_template:
            raise ValueError("this model has no chat template (a cpt run without one): use /v1/completions")
        for m in messages:
            if (
                not isinstance(m, dict)
                or not isinstance(m.get("content"), str)
                or m.get("role") not in ("system", "user", "assistant")
            ):
                raise ValueError("each message needs a role (system/user/assistant) and string content")
        text = self.tokenizer.apply_chat_template(
            messages, chat_template=self.chat_template, tokenize=False, add_generation_prompt=True
        )
        ids = self.tokenizer(text, add_special_tokens=self.template == "alpaca-ko")["input_ids"]
        return text, ids

    # ---- decoding
    def generate(
        self, ids: list[int], *, max_tokens: int, temperature: float, top_p: float, stop: list[str], seed: int | None
    ) -> Iterator[tuple[str, str | None]]:
        """Yield ``(text delta, finish_reason or None)``; the last item carries the finish reason."""
        import torch

        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        eos = {self.tokenizer.eos_token_id} - {None}
        out: list[int] = []
        sent = ""
        past = None
        cur = torch.tensor([ids], device=self.device)
        finish = "length"
        stopped = False  # by a stop string: the text after it is never sent
        with torch.no_grad():
            for _ in range(max_tokens):
                res = self.model(input_ids=cur, past_key_values=past, use_cache=True)
                past = res.past_key_values
                logits = res.logits[0, -1].float().cpu()
                if temperature <= 0:
                    nxt = int(logits.argmax())
                else:
                    probs = torch.softmax(logits / temperature, -1)
                    if top_p < 1.0:
                        sp, si = probs.sort(descending=True)
                        keep = sp.cumsum(0) - sp < top_p
                        probs = torch.zeros_like(probs).scatter(0, si[keep], sp[keep])
                    nxt = int(torch.multinomial(probs, 1, generator=gen))
                if nxt in eos:
                    finish = "stop"
                    break
                out.append(nxt)
                text = self.tokenizer.decode(out, skip_special_tokens=True)
                cut = min((text.find(s) for s in stop if s and s in text), default=-1)
                if cut >= 0:
                    if cut > len(sent):
                        yield text[len(sent) : cut], None
                    sent = text[:cut]
                    finish, stopped = "stop", True
                    break
                if not text.endswith("\ufffd") and len(text) > len(sent):  # hold back a half character
                    yield text[len(sent) :], None
                    sent = text
                cur = torch.tensor([[nxt]], device=self.device)
        self.num_completion_tokens = len(out)
        text = sent if stopped else self.tokenizer.decode(out, skip_special_tokens=True)
        yield text[len(sent) :], finish

    def _params(self, body: dict) -> dict:
        max_tokens = _param(body, "max_completion_tokens", None, int) or _param(body, "max_tokens", 128, int)
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise ValueError("'stop' must be a string or a list of strings")
        if max_tokens < 1:
            raise ValueError("'max_tokens' must be at least 1")
        return {
            "max_tokens": max_tokens,
            "temperature": _param(body, "temperature", 0.0, float),
            "top_p": _param(body, "top_p", 1.0, float),
            "stop": stop,
            "seed": _param(body, "seed", None, int),
        }

    # ---- OpenAI bodies
    def chat_completion(self, body: dict) -> dict | Iterator[dict]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        _, ids = self.chat_prompt(messages)
        return self._respond(ids, self._params(body), chat=True, stream=bool(body.get("stream")))

    def completion(self, body: dict) -> dict | Iterator[dict]:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("'prompt' must be a string")
        ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
        return self._respond(ids, self._params(body), chat=False, stream=bool(body.get("stream")))

    def _respond(self, ids: list[int], params: dict, *, chat: bool, stream: bool):
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        obj = "chat.completion" if chat else "text_completion"
        pieces = self.generate(ids, **params)
        if stream:
            return self._stream(pieces, rid=rid, created=created, chat=chat)
        text, finish = "", None
        for delta, reason in pieces:
            text += delta
            finish = reason or finish
        n_out = self.num_completion_tokens
        choice = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            if chat
            else {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        )
        return {
            "id": rid,
            "object": obj,
            "created": created,
            "model": self.name,
            "choices": [choice],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": n_out, "total_tokens": len(ids) + n_out},
        }

    def _stream(self, pieces, *, rid: str, created: int, chat: bool) -> Iterator[dict]:
        obj = "chat.completion.chunk" if chat else "text_completion"
        if chat:
            yield {
                "id": rid,
                "object": obj,
                "created": created,
                "model": self.name,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            }
        for delta, reason in pieces:
            if not delta and reason is None:
                continue
            choice = (
                {"index": 0, "delta": {"content": delta} if delta else {}, "finish_reason": reason}
                if chat
                else {"index": 0, "text": delta, "finish_reason": reason, "logprobs": None}
            )
            yield {"id": rid, "object": obj, "created": created, "model": self.name, "choices": [choice]}


class LlamaCppBackend:
    """A GGUF file in llama.cpp (llama-cpp-python); its chat template comes from the GGUF."""

    def __init__(self, gguf_path: str | Path, *, name: str, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        from hanforge.export.llamacpp import require_llama_cpp

        llama_cpp = require_llama_cpp("hanforge serve --backend llama.cpp")
        self.name = name
        self.llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)

    def _kwargs(self, body: dict) -> dict:
        keys = ("max_tokens", "temperature", "top_p", "stop", "seed", "stream")
        kw = {k: body[k] for k in keys if k in body}
        if "max_completion_tokens" in body:
            kw["max_tokens"] = body["max_completion_tokens"]
        kw.setdefault("temperature", 0.0)
        kw.setdefault("max_tokens", 128)
        return kw

    def _named(self, result):
        if isinstance(result, dict):
            return {**result, "model": self.name}
        return ({**chunk, "model": self.name} for chunk in result)

    def chat_completion(self, body: dict):
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        return self._named(self.llm.create_chat_completion(messages=messages, **self._kwargs(body)))

    def completion(self, body: dict):
        if not isinstance(body.get("prompt"), str):
            raise ValueError("'prompt' must be a string")
        return self._named(self.llm.create_completion(prompt=body["prompt"], **self._kwargs(body)))


def resolve_model(path: str | Path) -> dict[str, Any]:
    """What to serve for ``path``: an export folder (export.json), a run folder, a model folder or
    a .gguf file. Returns ``{kind: "hf"|"gguf", path, template, tokenizer_dir}``."""
    path = Path(path)
    if path.is_file() and path.suffix == ".gguf":
        manifest = path.parent.parent / "export.json"
        info = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
        return {
            "kind": "gguf",
            "path": path,
            "template": info.get("template", "chat"),
            "tokenizer_dir": info.get("source"),
        }
    if (path / "export.json").is_file():
        info = json.loads((path / "export.json").read_text(encoding="utf-8"))
        return {"kind": "hf", "path": Path(info["source"]), "template": info["template"], "tokenizer_dir": None}
    if (path / "train_config.json").is_file() and (path / "merged").is_dir():
        return {"kind": "hf", "path": path / "merged", "template": training_template(path), "tokenizer_dir": None}
    if (path / "config.json").is_file():
        run = path.parent if (path.parent / "train_config.json").is_file() else None
        return {"kind": "hf", "path": path, "template": training_template(run), "tokenizer_dir": None}
    raise ExportError(f"{path}: not an export folder, run folder, model folder or .gguf file")


def vllm_command(
    model_dir: Path, *, host: str, port: int, name: str, template: str, chat_template_file: Path | None = None
) -> list[str]:
    """The ``vllm serve`` command line for a model folder (raises if vLLM is not installed)."""
    if shutil.which("vllm") is None:
        raise ExportError("--backend vllm: the vllm command is not installed (pip install vllm, on a CUDA machine)")
    cmd = ["vllm", "serve", str(model_dir), "--host", host, "--port", str(port), "--served-model-name", name]
    if template == "alpaca-ko":
        if chat_template_file is None:
            raise ExportError("--backend vllm: alpaca-ko models need a chat template file")
        chat_template_file.write_text(ALPACA_KO_CHAT_TEMPLATE, encoding="utf-8")
        cmd += ["--chat-template", str(chat_template_file)]
    return cmd
