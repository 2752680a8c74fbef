"""Stage datasets for the trainer.

* **cpt**: the token-shard folder itself (:class:`~hanforge.shards.TokenShardDataset`, memory-mapped;
  no re-tokenisation, no datasets cache).
* **sft**: instruction records (JSONL/Parquet: ``instruction``/``input``/``output`` or ``messages``)
  are rendered with the Korean Alpaca template or the tokenizer's chat template, tokenised with a
  loss mask that is 1 on response tokens only, and packed whole into token shards by the
  project's writer (:func:`~hanforge.shards.token_format.write_token_shards`) under
  ``<output>/data/sft-tokens``; training then reads them like CPT shards.
* **dpo**: (prompt, chosen, rejected) records become a ``datasets.Dataset`` in TRL's preference
  format (:func:`preference_dataset`; TRL tokenizes it and masks the loss to the responses).
* **grpo**: prompt records become a ``datasets.Dataset`` with a ``prompt`` column (:func:`prompt_dataset`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hanforge.errors import InputError
from hanforge.fingerprint import config_fingerprint, file_fingerprint

ALPACA_KO_INSTRUCTION = "### 지시사항:\n"
ALPACA_KO_INPUT = "### 입력:\n"
ALPACA_KO_RESPONSE = "### 응답:\n"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL (``.jsonl``/``.json`` lines) or Parquet file as dicts."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not a JSON line ({exc})") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object")
        records.append(record)
    return records


def alpaca_ko_prompt(instruction: str, input_text: str = "") -> str:
    """The Korean Alpaca prompt (everything before the response)."""
    prompt = f"{ALPACA_KO_INSTRUCTION}{instruction.strip()}\n\n"
    if input_text and input_text.strip():
        prompt += f"{ALPACA_KO_INPUT}{input_text.strip()}\n\n"
    return prompt + ALPACA_KO_RESPONSE


def _messages(record: dict[str, Any], where: str) -> list[dict[str, str]]:
    if "messages" in record:
        msgs = record["messages"]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in msgs):
            raise InputError(f"{where}: 'messages' must be a list of {{role, content}}")
        return msgs
    if "instruction" in record and "output" in record:
        user = record["instruction"].strip()
        if (record.get("input") or "").strip():
            user += "\n\n" + record["input"].strip()
        return [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    raise InputError(f"{where}: needs instruction/output fields or a messages list")


def _encode(tokenizer, text: str, *, first: bool) -> list[int]:
    return tokenizer(text, add_special_tokens=first)["input_ids"]


def segments_for_record(record: dict[str, Any], *, template: str, tokenizer, where: str) -> list[tuple[str, bool]]:
    """``[(text, trained)]`` pieces of one SFT example in order; ``trained`` marks responses."""
    if template == "alpaca-ko":
        if "instruction" not in record or "output" not in record:
            if "messages" in record:
                raise InputError(f"{where}: chat 'messages' need data.template = 'chat'")
            raise InputError(f"{where}: needs 'instruction' and 'output' fields")
        return [
            (alpaca_ko_prompt(record["instruction"], record.get("input") or ""), False),
            (record["output"].strip(), True),
        ]
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("data.template = 'chat' but the tokenizer has no chat template; use 'alpaca-ko'")
    msgs = _messages(record, where)
    pieces: list[tuple[str, bool]] = []
    done = ""
    for i, msg in enumerate(msgs):
        if msg["role"] != "assistant":
            continue
        prefix = tokenizer.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(msgs[: i + 1], tokenize=False)
        if not prefix.startswith(done) or not full.startswith(prefix):
            raise InputError(f"{where}: the chat template does not render turns as prefixes; cannot mask the loss")
        pieces += [(prefix[len(done) :], False), (full[len(prefix) :], True)]
        done = full
    if not pieces:
        raise InputError(f"{where}: no assistant message to train on")
    return pieces


def tokenize_segments(
    pieces: list[tuple[str, bool]], tokenizer, *, add_special: bool = True
) -> tuple[list[int], list[int]]:
    """Ids and loss mask of the pieces (tokenised piece by piece, so the mask is exact).

    ``add_special``: let the tokenizer add its BOS to the first piece (Alpaca); chat templates
    spell their special tokens out themselves.
    """
    ids: list[int] = []
    mask: list[int] = []
    for k, (text, trained) in enumerate(pieces):
        piece = _encode(tokenizer, text, first=add_special and k == 0)
        ids += piece
        mask += [int(trained)] * len(piece)
    return ids, mask


def build_sft_shards(
    *, instructions: str | Path, template: str, tokenizer, max_length: int, output: str | Path
) -> tuple[Path, dict[str, Any]]:
    """Render, tokenise (loss mask on responses) and pack SFT examples into token shards.

    Reuses ``output`` when its manifest records the same data file, template, tokenizer and
    length. Returns the folder and a summary (examples, truncated, tokens).
    """
    from hanforge.output import JobOutput

    output = Path(output)
    key = {
        "instructions": file_fingerprint(instructions),
        "template": template,
        "max_length": max_length,
        "tokenizer": config_fingerprint(
            {"vocab": sorted(tokenizer.get_vocab().items()), "chat_template": getattr(tokenizer, "chat_template", None)}
        ),
    }
    job = JobOutput(output, what="SFT token-shard set", marker=key, owns=("tokens-*.arrow", "manifest.json"))
    with job:
        # a rebuild (other data, template, tokenizer or length) replaces only the shards hanforge wrote
        if job.claim(overwrite=True) == "finished" and (output / "manifest.json").is_file():
            return output, json.loads((output / "manifest.json").read_text(encoding="utf-8"))
        manifest = _write_sft_shards(
            instructions, template=template, tokenizer=tokenizer, max_length=max_length, output=output, key=key
        )
        job.finish()
    return output, manifest


def _write_sft_shards(
    instructions: str | Path, *, template: str, tokenizer, max_length: int, output: Path, key: dict[str, Any]
) -> dict[str, Any]:
    from hanforge.shards.token_format import write_token_shards

    records = read_records(instructions)
    if not records:
        raise InputError(f"{instructions}: no records")
    examples = []
    for n, record in enumerate(records):
        pieces = segments_for_record(record, template=template, tokenizer=tokenizer, where=f"{instructions} record {n}")
        examples.append(tokenize_segments(pieces, tokenizer, add_special=template == "alpaca-ko"))
    eos = tokenizer.eos_token_id
    return write_token_shards(
        examples,
        output=output,
        seq_len=max_length,
        vocab_size=len(tokenizer),
        eos_id=eos,
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
        split_documents=False,
        source="sft",
        with_loss_mask=True,
        extra_manifest={"sft_key": key},
    )


def _render_prompt(prompt: str, *, template: str, tokenizer) -> str | list[dict[str, str]]:
    """A prompt in TRL's standard (Alpaca text) or conversational (chat messages) form."""
    if template == "alpaca-ko":
        return alpaca_ko_prompt(prompt)
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("data.template = 'chat' but the tokenizer has no chat template; use 'alpaca-ko'")
    return [{"role": "user", "content": prompt}]


def preference_dataset(path: str | Path, *, tokenizer, template: str, max_length: int):
    """(prompt, chosen, rejected) records as a ``datasets.Dataset`` in TRL's preference format.

    Korean Alpaca: the prompt is rendered with the template (text); chat: conversational messages
    that TRL renders with the tokenizer's chat template. TRL tokenizes, appends EOS and truncates
    at ``max_length``; the pairs it will cut are counted here. Returns ``(dataset, info)``.
    """
    import datasets

    records = read_records(path)
    if not records:
        raise InputError(f"{path}: no records")
    rows = []
    num_truncated = 0
    for n, record in enumerate(records):
        missing = [k for k in ("prompt", "chosen", "rejected") if not isinstance(record.get(k), str)]
        if missing:
            raise InputError(
                f"{path} record {n}: needs string fields prompt, chosen, rejected (missing {', '.join(missing)})"
            )
        prompt = _render_prompt(record["prompt"], template=template, tokenizer=tokenizer)
        chosen, rejected = record["chosen"].strip(), record["rejected"].strip()
        if template == "alpaca-ko":
            prompt_len = len(_encode(tokenizer, prompt, first=True))
            longest = max(len(_encode(tokenizer, c, first=False)) for c in (chosen, rejected)) + 1
            num_truncated += prompt_len + longest > max_length
            rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
        else:
            rows.append(
                {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            )
    return datasets.Dataset.from_list(rows), {"num_pairs": len(rows), "num_truncated": num_truncated}


def prompt_dataset(path: str | Path, *, tokenizer, template: str):
    """GRPO prompts as a ``datasets.Dataset``: ``prompt`` rendered like SFT/DPO, other fields kept.

    The other fields of each record reach the reward functions as keyword lists (TRL).
    """
    import datasets

    records = read_records(path)
    if not records:
        raise InputError(f"{path}: no records")
    rows = []
    for n, record in enumerate(records):
        if not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
            raise InputError(f"{path} record {n}: needs a non-empty string field prompt")
        rows.append({**record, "prompt": _render_prompt(record["prompt"], template=template, tokenizer=tokenizer)})
    return datasets.Dataset.from_list(rows), {"num_prompts": len(rows)}
