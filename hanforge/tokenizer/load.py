"""Load a Hugging Face fast tokenizer (``tokenizer.json``) with what token shards need to know.

:func:`load_tokenizer` accepts a tokenizer folder (as written by ``save_pretrained`` or
``hanforge tokenizer train``) or a ``tokenizer.json`` file and returns the
:class:`tokenizers.Tokenizer` plus its fingerprint, vocabulary size and EOS id. Special-token
strings that occur in the text
itself are encoded as ordinary text (``encode_special_tokens``), so a page containing ``</s>``
cannot fake a document boundary.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from tokenizers import Tokenizer

from hanforge.errors import InputError
from hanforge.fingerprint import file_fingerprint
from hanforge.tokenizer.batch_encode import BatchEncoder

#: EOS spellings tried, in order, when tokenizer_config.json names none.
EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|im_end|>", "[SEP]")


@dataclasses.dataclass
class LoadedTokenizer:
    """A fast tokenizer and its identity."""

    tokenizer: Tokenizer
    path: Path
    """The tokenizer.json file."""
    name: str
    """Folder (or file) basename, for manifests (no absolute paths in artifacts)."""
    fingerprint: str
    vocab_size: int
    eos_id: int | None
    eos_token: str | None

    @functools.cached_property
    def encoder(self) -> BatchEncoder:
        """Batch encoding to flat ids + per-document lengths (same ids as ``encode_batch_fast``)."""
        return BatchEncoder(self.tokenizer)


def tokenizer_json_path(path: str | Path) -> Path:
    """The ``tokenizer.json`` behind ``path`` (a folder or the file itself)."""
    path = Path(path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not path.exists():
        raise InputError(
            f"{path}: tokenizer path does not exist (give a Hugging Face tokenizer folder or tokenizer.json)"
        )
    if not file.is_file():
        raise InputError(f"{path}: no tokenizer.json found (give a Hugging Face tokenizer folder or file)")
    return file


def load_tokenizer(path: str | Path, *, eos_token: str | None = None) -> LoadedTokenizer:
    """Load the fast tokenizer at ``path``; find its EOS (``eos_token`` overrides the lookup)."""
    file = tokenizer_json_path(path)
    try:
        tok = Tokenizer.from_file(str(file))
    except Exception as exc:  # tokenizers raises plain Exception subclasses  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
        raise InputError(f"{file}: cannot load tokenizer ({exc})") from None
    if eos_token is None:
        config = file.parent / "tokenizer_config.json"
        if config.is_file():
            value = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
            eos_token = value.get("content") if isinstance(value, dict) else value
    if eos_token is None:
        eos_token = next((t for t in EOS_CANDIDATES if tok.token_to_id(t) is not None), None)
    eos_id = tok.token_to_id(eos_token) if eos_token is not None else None
    if eos_token is not None and eos_id is None:
        raise InputError(f"{file}: eos token {eos_token!r} is not in the vocabulary")
    # special-token strings inside document text ("</s>" in a page) are encoded as plain text:
    # only the tokenize job decides where EOS goes
    tok.encode_special_tokens = True
    name = Path(path).name if Path(path).is_dir() else file.name
    return LoadedTokenizer(
        tokenizer=tok,
        path=file,
        name=name,
        fingerprint=file_fingerprint(file),
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        eos_id=eos_id,
        eos_token=eos_token,
    )
