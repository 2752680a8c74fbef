"""Extend an existing Hugging Face BPE tokenizer with Korean tokens learned from the corpus.

Vocabulary expansion as in EEVE and llama-2-ko: a BPE of the same kind as the base (same
normalizer and pre-tokenizer, so the same symbol space: ``▁`` metaspace or byte-level) is trained
on the Korean text shards; walking its vocabulary in training order, every token that contains
Hangul, is not yet in the base vocabulary and can be built from tokens already present (either a
single alphabet symbol or the merge of two present tokens) is appended with a new id, and its
merge is appended after the base merges. Old merges keep priority, so text without Hangul
tokenizes exactly as before.

Writes ``<output>/tokenizer.json`` (and copies the base's other tokenizer files),
``new_tokens.json`` — for each added token its id, string, decoded text and the base BPE's pieces
of that symbol string (``base_ids``: EEVE-style initialisation of the new embedding rows as the mean
of those) — and ``manifest.json``.

The merge surgery is written here because neither tokenizers nor transformers offers "add BPE
merges": ``add_tokens`` would make the new tokens greedy added-tokens outside the BPE model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from hanforge.atomic import atomic_path, atomic_write_bytes, atomic_write_json
from hanforge.errors import InputError
from hanforge.fingerprint import file_fingerprint, write_manifest
from hanforge.output import JobOutput
from hanforge.shards.text_reader import text_shard_files
from hanforge.tokenizer.load import load_tokenizer, tokenizer_json_path
from hanforge.tokenizer.train import iter_shard_texts

HANGUL = re.compile(r"[\uac00-\ud7a3]")
_COPIED = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")
#: What ``hanforge tokenizer extend`` writes in its output folder (deleted only by --overwrite).
EXTEND_OWNS = ("tokenizer.json", "new_tokens.json", "manifest.json", *_COPIED)


def _korean_lines(inputs: list[str | Path], *, max_lines: int) -> list[str]:
    lines = []
    for _, text in iter_shard_texts(inputs):
        for line in text.split("\n"):
            if HANGUL.search(line):
                lines.append(line)
                if max_lines and len(lines) >= max_lines:
                    return lines
    return lines


def _merge_pair(merge: Any) -> tuple[str, str]:
    if isinstance(merge, str):
        a, b = merge.split(" ", 1)
        return a, b
    return merge[0], merge[1]


def extend_tokenizer(
    *,
    base: str | Path,
    inputs: list[str | Path],
    output: str | Path,
    num_new_tokens: int,
    train_vocab_size: int | None = None,
    max_lines: int = 0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Add up to ``num_new_tokens`` Korean BPE tokens learned from ``inputs`` to tokenizer ``base``.

    ``train_vocab_size`` is the size of the helper BPE trained on the corpus (default: base
    vocabulary size + 2 × num_new_tokens, at most 64k). Returns the manifest.
    """
    if num_new_tokens <= 0:
        raise InputError(f"num_new_tokens must be positive, got {num_new_tokens}")
    base_file = tokenizer_json_path(base)
    base_tok = load_tokenizer(base)
    job = JobOutput(
        output,
        what="tokenizer extension",
        owns=EXTEND_OWNS,
        marker={
            "base": base_tok.fingerprint,
            "inputs": _input_fingerprints(inputs),
            "num_new_tokens": num_new_tokens,
            "train_vocab_size": train_vocab_size,
            "max_lines": max_lines,
        },
    )
    job.check(overwrite=overwrite)  # refuse before the work, not after it
    data = json.loads(base_file.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise InputError(f"{base_file}: only BPE tokenizers can be extended (model type {model.get('type')!r})")
    vocab: dict[str, int] = model["vocab"]

    lines = _korean_lines(inputs, max_lines=max_lines)
    if not lines:
        raise InputError(f"no Korean lines found in {', '.join(map(str, inputs))}")
    size = train_vocab_size or min(len(vocab) + 2 * num_new_tokens, 65536)
    helper = _train_helper_bpe(lines, base_tok=base_tok, data=data, size=size)
    added = _append_korean_tokens(data, helper=helper, num_new_tokens=num_new_tokens, base_file=base_file)
    output = Path(output)
    with job:
        job.claim(overwrite=overwrite)
        extended = _write_extended(output, data=data, base_file=base_file, base_tok=base_tok, added=added)
        manifest = write_manifest(
            output,
            kind="tokenizer-extension",
            config={"num_new_tokens": num_new_tokens, "train_vocab_size": size, "max_lines": max_lines},
            inputs={
                "base/tokenizer.json": base_tok.fingerprint,
                **{f"corpus/{k}": v for k, v in _input_fingerprints(inputs).items()},
            },
            base_vocab_size=base_tok.vocab_size,
            vocab_size=extended.get_vocab_size(with_added_tokens=True),
            num_added_tokens=len(added),
            num_training_lines=len(lines),
            tokenizer_fingerprint=file_fingerprint(output / "tokenizer.json"),
        )
        job.finish()
    return manifest


def _train_helper_bpe(lines: list[str], *, base_tok, data: dict[str, Any], size: int) -> Tokenizer:
    """A BPE of ``size`` trained on ``lines`` with the base tokenizer's normalizer and pre-tokenizer."""
    helper = Tokenizer(models.BPE(unk_token=data["model"].get("unk_token")))
    helper.normalizer = base_tok.tokenizer.normalizer
    pre = base_tok.tokenizer.pre_tokenizer
    byte_level = "ByteLevel" in json.dumps(data.get("pre_tokenizer"))
    if pre is None:  # SentencePiece "legacy" layout: the normalizer turns spaces into ▁
        pre = pre_tokenizers.Split("▁", behavior="merged_with_next")
    helper.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        show_progress=False,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if byte_level else [],
    )
    helper.train_from_iterator(lines, trainer=trainer)
    helper.decoder = base_tok.tokenizer.decoder  # to read byte-level symbols back as text
    return helper


def _append_korean_tokens(
    data: dict[str, Any], *, helper: Tokenizer, num_new_tokens: int, base_file: Path
) -> list[dict[str, Any]]:
    """Append the helper's Korean tokens the base lacks (and their merges) to ``data`` in place.

    Returns ``[{"id", "token"}]`` of the added tokens, in the helper's order.
    """
    vocab: dict[str, int] = data["model"]["vocab"]
    merges: list = data["model"]["merges"]
    string_merges = bool(merges) and isinstance(merges[0], str)
    helper_data = json.loads(helper.to_str())
    helper_vocab: dict[str, int] = helper_data["model"]["vocab"]
    produced = {a + b: (a, b) for a, b in map(_merge_pair, helper_data["model"]["merges"])}
    # tokenizers renumbers added tokens that are missing from the model vocabulary to follow it,
    # so pin them there with their ids; then the new ids can follow them safely
    for special in data.get("added_tokens", []):
        vocab.setdefault(special["content"], special["id"])
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise InputError(f"{base_file}: vocabulary ids are not contiguous; cannot append tokens safely")
    taken = set(vocab)
    next_id = len(vocab)
    added: list[dict[str, Any]] = []
    for token, _ in sorted(helper_vocab.items(), key=lambda kv: kv[1]):
        if len(added) >= num_new_tokens:
            break
        text = helper.decode([helper_vocab[token]])
        if token in taken or not HANGUL.search(text) or "\ufffd" in text:  # Korean, whole characters
            continue
        pair = produced.get(token)
        if pair is not None and not (pair[0] in vocab and pair[1] in vocab):
            continue
        vocab[token] = next_id
        if pair is not None:
            merges.append(f"{pair[0]} {pair[1]}" if string_merges else [pair[0], pair[1]])
        taken.add(token)
        added.append({"id": next_id, "token": token})
        next_id += 1
    if not added:
        raise InputError(f"{base_file}: the corpus taught no Korean token that the base lacks")
    return added


def _write_extended(
    output: Path, *, data: dict[str, Any], base_file: Path, base_tok, added: list[dict[str, Any]]
) -> Tokenizer:
    """Write the extended tokenizer.json, the base's side files and new_tokens.json; return it loaded."""
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    atomic_write_bytes(output / "tokenizer.json", text.encode("utf-8"))
    for name in _COPIED:
        if (base_file.parent / name).is_file() and base_file.parent.resolve() != output.resolve():
            with atomic_path(output / name) as tmp:
                shutil.copyfile(base_file.parent / name, tmp)
    extended = Tokenizer.from_file(str(output / "tokenizer.json"))
    for entry in added:
        entry["text"] = extended.decode([entry["id"]])
        # the base model's pieces of the same symbol string (no normalizer / pre-tokenizer)
        entry["base_ids"] = [t.id for t in base_tok.tokenizer.model.tokenize(entry["token"])]
    atomic_write_json(output / "new_tokens.json", added)
    return extended


def _input_fingerprints(inputs: list[str | Path]) -> dict[str, str]:
    return {key: file_fingerprint(path) for key, path in text_shard_files(inputs)}
