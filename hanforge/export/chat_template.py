"""The prompt format a model was trained with, as a Jinja chat template every server understands.

``template = "alpaca-ko"`` runs (hanforge/train/data.py) train on
``### 지시사항:\\n…\\n\\n### 응답:\\n`` prompts. :data:`ALPACA_KO_CHAT_TEMPLATE` renders an
OpenAI ``messages`` list into exactly that text (a single user turn gives ``alpaca_ko_prompt``
byte for byte; earlier turns become earlier blocks closed by EOS; a system message is put before
the next instruction), so hanforge serve, llama.cpp (the template is written into the GGUF) and
``vllm serve --chat-template`` all build the prompt the model saw in training. ``template =
"chat"`` runs keep the tokenizer's own chat template.
"""

from __future__ import annotations

import json
from pathlib import Path

ALPACA_KO_CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{%- set ns.system = m['content'] | trim -%}"
    "{%- elif m['role'] == 'user' -%}"
    "{{- '### 지시사항:\\n' + ((ns.system + '\\n\\n') if ns.system else '') + (m['content'] | trim)"
    " + '\\n\\n### 응답:\\n' -}}{%- set ns.system = '' -%}"
    "{%- elif m['role'] == 'assistant' -%}{{- (m['content'] | trim) + eos_token + '\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
)


def training_template(run_dir: Path | None) -> str:
    """``"alpaca-ko"`` or ``"chat"``: the ``data.template`` of the run's train_config.json (sft/dpo),
    ``"chat"`` for cpt runs and plain model folders (the tokenizer's template, if any)."""
    if run_dir is None or not (run_dir / "train_config.json").is_file():
        return "chat"
    config = json.loads((run_dir / "train_config.json").read_text(encoding="utf-8"))
    if config.get("stage") in ("sft", "dpo"):
        return config.get("data", {}).get("template", "alpaca-ko")
    return "chat"


def chat_template_for(template: str, tokenizer) -> str | None:
    """The Jinja chat template to serve with: Alpaca-ko's, or the tokenizer's own (None if it has none)."""
    if template == "alpaca-ko":
        return ALPACA_KO_CHAT_TEMPLATE
    return getattr(tokenizer, "chat_template", None)
