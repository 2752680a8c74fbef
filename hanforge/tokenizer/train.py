"""Train a SentencePiece BPE tokenizer on text shards and export it as a Hugging Face tokenizer.

``hanforge tokenizer train`` calls :func:`train_tokenizer`: the non-empty lines of the shards'
``text`` column feed SentencePiece (BPE, ``character_coverage`` 0.9995, byte fallback, user
defined symbols such as ``<한국어> <영어> <코드>``). Normalization is the identity (hanforge's
corpus engine already normalizes text) and whitespace is kept as is, so the exported fast
tokenizer (:func:`spm_to_hf_tokenizer`, the Llama "legacy" layout: prepend ``▁``, replace
spaces, BPE with byte fallback) gives exactly the SentencePiece ids.

Every Hangul syllable of KS X 1001 (the 2,350 of EUC-KR/CP949, the syllables any Korean text
is overwhelmingly made of) is a required character of the base vocabulary unless
``ksx1001_syllables = false``: SentencePiece's ``character_coverage`` keeps only the characters
frequent in the training text, so a tokenizer trained on one manual spelled 1,747 of them in
three byte pieces each (민 in 대한민국, 젝 in 프로젝트). The list is generated from Python's
``euc-kr`` codec, not written out (:func:`ksx1001_syllables`).

Printable ASCII and the punctuation common in Korean documents (:data:`COMMON_CHARS`: quotes,
middle dot, ellipsis, dashes, brackets 「」《》, §, ※, arrows, circled ①-⑩) are required too
unless ``common_chars = false``: at ``character_coverage`` 0.9995 a tokenizer trained on the
LibreOffice help spelled ``!``, ``&``, ``q``, ``“ ”``, ``…``, ``§`` and ``①`` in bytes (byte pieces were
1.5-2.4% of the tokens of other Korean manuals). The 65 pieces this added there cost nothing in domain and
lift chars/token out of domain (``bench/tokens_ood.py``, BENCHMARKS.md). Unlike
``character_coverage = 1.0`` (which also measures better on one manual) it does not turn every
character seen once in a web crawl (emoji, rare Hanja) into a piece.

``pretokenize = "morphemes"`` (``--pretokenize morphemes``) trains on morpheme-segmented text,
as several Korean tokenizers do: no piece crosses a morpheme boundary found by Kiwi (or konlpy's
Okt/Komoran), while the model itself stays a plain SentencePiece BPE that encodes raw text
(:mod:`hanforge.tokenizer.morpheme_split`). Measured against the default in BENCHMARKS.md.

Output folder: ``sentencepiece.model``, ``tokenizer.json``, ``tokenizer_config.json``,
``manifest.json`` — all written atomically; same inputs and config give identical files.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_bytes, atomic_write_json
from hanforge.config import ConfigBase, require
from hanforge.errors import InputError
from hanforge.fingerprint import file_fingerprint, write_manifest
from hanforge.shards.text_reader import iter_text_batches, text_shard_files
from hanforge.tokenizer.morpheme_split import ANALYZERS, DELIMITER, mark_morphemes

DEFAULT_SYMBOLS = ("<한국어>", "<영어>", "<코드>")
PRETOKENIZE = ("", "morphemes")
KSX1001_SYLLABLES = 2350
COMMON_CHARS = "".join(chr(c) for c in range(0x21, 0x7F)) + "·‥…‘’“”〈〉《》「」『』【】–—※§°±×÷→←↑↓⇒①②③④⑤⑥⑦⑧⑨⑩"
"""Required characters besides the syllables: printable ASCII and common Korean-text punctuation."""
UNK, BOS, EOS = "<unk>", "<s>", "</s>"


@dataclasses.dataclass(frozen=True)
class TokenizerTrainConfig(ConfigBase):
    """Settings of ``hanforge tokenizer train``."""

    vocab_size: int = 32000
    """Vocabulary size, byte-fallback pieces and special tokens included."""
    character_coverage: float = 0.9995
    """Share of characters covered by single-character pieces; rarer ones fall back to bytes."""
    byte_fallback: bool = True
    """Encode characters outside the vocabulary as <0xNN> byte pieces (no <unk>)."""
    user_defined_symbols: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SYMBOLS))
    """Pieces always kept whole (language tags and the like)."""
    max_sentence_bytes: int = 16384
    """Lines longer than this (UTF-8 bytes) are cut into pieces of at most this size."""
    max_lines: int = 0
    """Use at most this many lines (in input order); 0 means all."""
    num_threads: int = 2
    """SentencePiece trainer threads."""
    ksx1001_syllables: bool = True
    """Put the 2,350 KS X 1001 Hangul syllables in the base vocabulary (SentencePiece required
    characters), so none of them falls back to bytes."""
    common_chars: bool = True
    """Put :data:`COMMON_CHARS` (printable ASCII, common punctuation of Korean text) in the base
    vocabulary, so none of them falls back to bytes."""
    required_chars: str = ""
    """More characters that must be single pieces of the base vocabulary."""
    split_digits: bool = True
    """Split numbers into single digits (what LLM tokenizers do for arithmetic; costs about 0.06
    Korean chars/token on number-heavy text, see BENCHMARKS.md)."""
    pretokenize: str = ""
    """``"morphemes"``: learn pieces inside morphemes only (each training line is split by
    ``morpheme_analyzer``, :mod:`hanforge.tokenizer.morpheme_split`); the tokenizer still encodes
    raw text, no analyzer at inference. ``""``: pieces may span a whole eojeol (the default)."""
    morpheme_analyzer: str = "kiwi"
    """Analyzer for ``pretokenize = "morphemes"``: kiwi (fast, the default), okt or komoran
    (konlpy; need a Java runtime)."""

    def validate(self) -> None:
        require(
            self.vocab_size >= 300,
            "vocab_size",
            f"must be at least 300 (256 byte pieces + specials), got {self.vocab_size}",
        )
        required = 256 + 3 + len(self.user_defined_symbols) + (KSX1001_SYLLABLES if self.ksx1001_syllables else 0)
        required += len(COMMON_CHARS) if self.common_chars else 0
        require(
            self.vocab_size > required,
            "vocab_size",
            f"must be more than {required} to hold the byte pieces, specials, the 2,350 KS X 1001 "
            f"syllables and the common characters, got {self.vocab_size} (or set ksx1001_syllables = false)",
        )
        require(
            0.9 <= self.character_coverage <= 1.0,
            "character_coverage",
            f"must be in [0.9, 1], got {self.character_coverage}",
        )
        require(
            self.max_sentence_bytes >= 256, "max_sentence_bytes", f"must be at least 256, got {self.max_sentence_bytes}"
        )
        require(self.max_lines >= 0, "max_lines", f"must be >= 0, got {self.max_lines}")
        require(self.num_threads >= 1, "num_threads", f"must be >= 1, got {self.num_threads}")
        require(
            self.pretokenize in PRETOKENIZE, "pretokenize", f"must be one of {PRETOKENIZE}, got {self.pretokenize!r}"
        )
        require(
            self.morpheme_analyzer in ANALYZERS,
            "morpheme_analyzer",
            f"must be one of {', '.join(ANALYZERS)}, got {self.morpheme_analyzer!r}",
        )
        for s in self.user_defined_symbols:
            require(
                bool(s) and not any(c.isspace() for c in s),
                "user_defined_symbols",
                f"{s!r} must be non-empty and contain no whitespace",
            )


def ksx1001_syllables() -> str:
    """The 2,350 Hangul syllables of KS X 1001, in code order (rows 0xB0-0xC8, cells 0xA1-0xFE
    of EUC-KR), decoded with Python's ``euc-kr`` codec."""
    return "".join(bytes([row, cell]).decode("euc-kr") for row in range(0xB0, 0xC9) for cell in range(0xA1, 0xFF))


def required_characters(config: TokenizerTrainConfig) -> str:
    """The required characters of ``config`` (KS X 1001 syllables first), without repeats."""
    chars = (ksx1001_syllables() if config.ksx1001_syllables else "") + config.required_chars
    chars += COMMON_CHARS if config.common_chars else ""
    return "".join(dict.fromkeys(c for c in chars if not c.isspace()))


def iter_shard_texts(inputs: list[str | Path], *, column: str = "text") -> Iterator[tuple[str, str]]:
    """``(source, text)`` of every document of the text shards behind ``inputs``, in path order."""
    for key, path in text_shard_files(inputs):
        for batch in iter_text_batches(path, text_column=column, optional=["source"]):
            texts = batch.column(column).to_pylist()
            has_source = "source" in batch.schema.names
            sources = batch.column("source").to_pylist() if has_source else [key.split("/")[0]] * len(texts)
            for source, text in zip(sources, texts, strict=True):
                yield source, text or ""


def _training_lines(inputs: list[str | Path], config: TokenizerTrainConfig, stats: dict[str, int]) -> Iterator[str]:
    limit = config.max_sentence_bytes
    for _, text in iter_shard_texts(inputs):
        stats["num_docs"] += 1
        for line in text.split("\n"):
            if not line.strip():
                continue
            data = line.encode("utf-8")
            if len(data) > limit:  # SentencePiece would skip it silently: cut it instead
                stats["num_lines_cut"] += 1
                pieces = [data[i : i + limit].decode("utf-8", "ignore") for i in range(0, len(data), limit)]
            else:
                pieces = [line]
            for piece in pieces:
                if config.max_lines and stats["num_lines"] >= config.max_lines:
                    return
                stats["num_lines"] += 1
                stats["num_chars"] += len(piece)
                if config.pretokenize == "morphemes":
                    piece = mark_morphemes(piece, analyzer=config.morpheme_analyzer)
                    stats["num_morpheme_cuts"] += piece.count(DELIMITER)
                yield piece


def bpe_merges(vocab: dict[str, int], *, skip: set[str]) -> list[tuple[str, str]]:
    """Merges that rebuild a SentencePiece BPE vocabulary, in the order of the pieces' ids.

    A piece of id ``i`` is produced by every split ``(l, r)`` with both halves in the vocabulary;
    pieces rank by id (SentencePiece's merge order), splits by the left half's length. Same rule
    as transformers' ``generate_merges``, written here so that tokenizer training needs no
    transformers.
    """
    merges = []
    for piece, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
        if piece in skip:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab and left not in skip and right not in skip:
                merges.append((left, right))
    return merges


def spm_to_hf_tokenizer(model_bytes: bytes, *, user_defined_symbols: list[str] | tuple[str, ...] = ()):
    """A :class:`tokenizers.Tokenizer` giving the same ids as the SentencePiece BPE model."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers

    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    special = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    user = [s for s in user_defined_symbols if s in vocab]
    byte_fallback = any(sp.is_byte(i) for i in range(sp.get_piece_size()))
    unk = sp.id_to_piece(sp.unk_id())
    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=bpe_merges(vocab, skip=set(special) | set(user)),
            unk_token=unk,
            fuse_unk=True,
            byte_fallback=byte_fallback,
        )
    )
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in special])
    tok.add_tokens([AddedToken(p, special=False, normalized=False) for p in user])
    return tok


def save_hf_tokenizer(tok, output: Path) -> None:
    """Write ``tokenizer.json`` and a ``tokenizer_config.json`` that AutoTokenizer loads, atomically."""
    atomic_write_bytes(output / "tokenizer.json", (tok.to_str(pretty=True) + "\n").encode("utf-8"))
    atomic_write_json(
        output / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": BOS,
            "eos_token": EOS,
            "unk_token": UNK,
            "add_bos_token": False,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 1_000_000_000,
        },
    )


#: What ``hanforge tokenizer train`` writes in its output folder (deleted only by --overwrite).
TRAIN_OWNS = ("sentencepiece.model", "tokenizer.json", "tokenizer_config.json", "manifest.json")


def train_tokenizer(
    *, inputs: list[str | Path], output: str | Path, config: TokenizerTrainConfig | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Train a SentencePiece BPE on the shards in ``inputs``; write SPM + HF files to ``output``.

    Returns the manifest (config, input fingerprints, line/char counts, vocab size). A folder
    holding a tokenizer of the same inputs and config is returned as is; one of other inputs
    or config is an OutputError unless ``overwrite``.
    """
    from hanforge.output import JobOutput

    config = config or TokenizerTrainConfig()
    config.validate()
    output = Path(output)
    files = text_shard_files(inputs)
    inputs_fp = {key: file_fingerprint(path) for key, path in files}
    job = JobOutput(output, what="tokenizer", owns=TRAIN_OWNS, marker={"config": config.to_dict(), "inputs": inputs_fp})
    with job:
        if job.claim(overwrite=overwrite) == "finished" and (output / "manifest.json").is_file():
            return json.loads((output / "manifest.json").read_text(encoding="utf-8"))
        manifest = _train_into(output, inputs=inputs, config=config, inputs_fp=inputs_fp)
        job.finish()
    return manifest


def _train_into(
    output: Path, *, inputs: list[str | Path], config: TokenizerTrainConfig, inputs_fp: dict[str, str]
) -> dict[str, Any]:
    import sentencepiece as spm

    stats = {"num_docs": 0, "num_lines": 0, "num_chars": 0, "num_lines_cut": 0}
    morphemes = config.pretokenize == "morphemes"
    if morphemes:
        stats["num_morpheme_cuts"] = 0
        mark_morphemes("한국어", analyzer=config.morpheme_analyzer)  # a missing analyzer fails here, in one line
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_training_lines(inputs, config, stats),
            model_writer=model,
            model_type="bpe",
            vocab_size=config.vocab_size,
            character_coverage=config.character_coverage,
            byte_fallback=config.byte_fallback,
            user_defined_symbols=list(config.user_defined_symbols),
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            unk_piece=UNK,
            bos_piece=BOS,
            eos_piece=EOS,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            split_digits=config.split_digits,
            required_chars=required_characters(config),
            # A morpheme-marked line holds at most one 1-byte delimiter per character.
            max_sentence_length=config.max_sentence_bytes * (2 if morphemes else 1),
            pretokenization_delimiter=DELIMITER if morphemes else "",
            shuffle_input_sentence=False,
            input_sentence_size=0,
            num_threads=config.num_threads,
            minloglevel=2,
        )
    except RuntimeError as exc:
        raise InputError(f"SentencePiece training failed on {', '.join(map(str, inputs))}: {exc}") from None
    model_bytes = model.getvalue()
    atomic_write_bytes(output / "sentencepiece.model", model_bytes)
    tok = spm_to_hf_tokenizer(model_bytes, user_defined_symbols=config.user_defined_symbols)
    save_hf_tokenizer(tok, output)
    return write_manifest(
        output,
        kind="tokenizer",
        config=config,
        inputs=inputs_fp,
        method="sentencepiece-bpe" + (f"+{config.morpheme_analyzer}-morphemes" if morphemes else ""),
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        tokenizer_fingerprint=file_fingerprint(output / "tokenizer.json"),
        **stats,
    )
