"""Benchmark: one SentencePiece setting at a time around ``hanforge tokenizer train``'s own.

Trains 32k BPE tokenizers with exactly the trainer's settings (identity normalization, byte
fallback, required characters, ...) and one setting changed, on the LibreOffice help text of
``bench/tokens_ood.py`` (its ``--work`` folder must exist: run that bench first), and reports
chars/token and byte fallback in domain (``lo-heldout``) and out of domain (``faq+gimp``,
``tax-rulings``), plus what the vocabulary is spent on (Latin, Hangul, single syllables, ...).

    PYTHONPATH=$PWD .venv/bin/python bench/tokens_settings.py --work /tmp/hanforge-bench-tokens-ood \
        --train lo-resiliparse
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tokens_data
import tokens_ood

VARIANTS: dict[str, dict] = {
    "defaults": {},
    "common_chars=false (defaults before)": {"common_chars": False},
    "split_by_whitespace=false": {"split_by_whitespace": False},
    "max_sentencepiece_length=8": {"max_sentencepiece_length": 8},
    "normalization_rule_name=nfkc": {"normalization_rule_name": "nfkc"},
    "character_coverage=1.0": {"character_coverage": 1.0},
}
HANGUL = re.compile(r"[\uac00-\ud7a3]+")


def vocab_use(sp) -> dict[str, int]:
    """Pieces per kind: Latin, Hangul (one syllable / more), other ASCII, bytes and specials, ..."""
    kinds: Counter = Counter()
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i).replace("▁", "")
        if sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i):
            kinds["bytes/specials"] += 1
        elif not piece:
            kinds["whitespace"] += 1
        elif HANGUL.fullmatch(piece):
            kinds["hangul 1 syllable" if len(piece) == 1 else "hangul"] += 1
        elif re.fullmatch(r"[A-Za-z]+", piece):
            kinds["latin"] += 1
        elif piece.isascii():
            kinds["ascii other"] += 1
        else:
            kinds["other"] += 1
    return dict(kinds.most_common())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hanforge-bench-tokens-ood"))
    ap.add_argument("--train", choices=["lo-resiliparse", "lo-pipeline"], default="lo-resiliparse")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    import sentencepiece as spm

    from hanforge.tokenizer import train as tr

    tokens_data.LO_ROOT = args.work / "lo" / "libreoffice/help/ko/text"
    tokens_data.FAQ_ROOT = args.work / "faq" / "ko"
    train, held = tokens_data.text_shards(args.work / "shards")
    shards = train if args.train == "lo-resiliparse" else args.work / "lo-pipeline"
    held_lines = [
        line
        for src, t in tr.iter_shard_texts([held])
        if src == "libreoffice"
        for line in t.split("\n")
        if len(line) >= 20
    ]
    sets = {"lo-heldout": held_lines, **tokens_ood.fetch_ood(args.work)}
    for index, name in enumerate(args.variants.split(",")):
        spm_args = dict(VARIANTS[name])
        config = tr.TokenizerTrainConfig(common_chars=spm_args.pop("common_chars", True))
        stats = {"num_docs": 0, "num_lines": 0, "num_chars": 0, "num_lines_cut": 0}
        settings = dict(
            model_type="bpe",
            vocab_size=config.vocab_size,
            character_coverage=config.character_coverage,
            byte_fallback=config.byte_fallback,
            user_defined_symbols=list(config.user_defined_symbols),
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            unk_piece=tr.UNK,
            bos_piece=tr.BOS,
            eos_piece=tr.EOS,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True,
            split_digits=config.split_digits,
            required_chars=tr.required_characters(config),
            max_sentence_length=config.max_sentence_bytes,
            shuffle_input_sentence=False,
            input_sentence_size=0,
            num_threads=config.num_threads,
            minloglevel=2,
        )
        settings.update(spm_args)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=tr._training_lines([shards], config, stats), model_writer=model, **settings
        )
        path = args.work / "settings" / f"{args.train}-{index}.model"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(model.getvalue())
        row = tokens_ood.measure(path, sets)
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        sp = spm.SentencePieceProcessor(model_file=str(path))
        print(json.dumps({"train": args.train, "variant": name, **row, "vocab": vocab_use(sp)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
