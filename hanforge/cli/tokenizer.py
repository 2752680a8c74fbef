"""``hanforge tokenizer train|extend|report``: thin wrappers over :mod:`hanforge.tokenizer`."""

from __future__ import annotations

import argparse

from hanforge.cli._options import HelpFormatter, add_inputs, add_output, add_overwrite, add_verb, given_options


def train_command(args: argparse.Namespace) -> int:
    """Train a SentencePiece BPE on Parquet text shards and export it as a Hugging Face tokenizer.

    Writes DIR/tokenizer.json, tokenizer_config.json, sentencepiece.model and manifest.json. A
    folder holding a tokenizer of other inputs or settings is refused unless --overwrite.

    Example:  hanforge tokenizer train out/dedup --output out/tok --vocab-size 32000
    """
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    table = {
        "vocab_size": args.vocab_size,
        "character_coverage": args.character_coverage,
        "byte_fallback": not args.no_byte_fallback,
        "max_lines": args.max_lines,
        "num_threads": args.threads,
        "ksx1001_syllables": not args.no_ksx1001,
        "split_digits": not args.no_split_digits,
        "common_chars": not args.no_common_chars,
        "pretokenize": "" if args.pretokenize == "none" else args.pretokenize,
        "morpheme_analyzer": args.analyzer,
    }
    if args.symbols is not None:
        table["user_defined_symbols"] = args.symbols
    config = TokenizerTrainConfig.from_table(table, where="tokenizer train")
    m = train_tokenizer(inputs=args.inputs, output=args.output, config=config, overwrite=args.overwrite)
    print(
        f"trained SentencePiece BPE: vocab {m['vocab_size']:,} from {m['num_lines']:,} lines "
        f"({m['num_chars']:,} chars, {m['num_docs']:,} docs; {m['num_lines_cut']:,} long lines cut)"
    )
    if "num_morpheme_cuts" in m:
        print(f"pieces kept inside morphemes ({args.analyzer}): {m['num_morpheme_cuts']:,} boundaries inside eojeols")
    print(f"wrote {args.output}/tokenizer.json, sentencepiece.model, manifest.json")
    return 0


def extend_command(args: argparse.Namespace) -> int:
    """Add Korean BPE tokens learned from text shards to an existing Hugging Face tokenizer.

    Writes DIR/tokenizer.json (base ids unchanged, new tokens appended), new_tokens.json and
    manifest.json; hanforge train's vocab init uses new_tokens.json for the new embeddings.

    Example:  hanforge tokenizer extend out/dedup --base path/to/hf-model --num-tokens 8000 --output out/tok-ext
    """
    from hanforge.tokenizer.extend import extend_tokenizer

    m = extend_tokenizer(
        inputs=args.inputs,
        num_new_tokens=args.num_tokens,
        **given_options(args, "base", "output", "train_vocab_size", "max_lines", "overwrite"),
    )
    print(f"added {m['num_added_tokens']:,} Korean tokens: vocab {m['base_vocab_size']:,} → {m['vocab_size']:,}")
    print(f"wrote {args.output}/tokenizer.json, new_tokens.json, manifest.json")
    return 0


def report_command(args: argparse.Namespace) -> int:
    """Compare tokenizers on held-out text shards: Korean and English characters per token.

    Example:  hanforge tokenizer report held-out/ --tokenizer out/tok path/to/other --json report.json
    """
    from hanforge.tokenizer.report import format_report, tokenizer_report

    rows = tokenizer_report(inputs=args.inputs, tokenizers=args.tokenizer, max_lines=args.max_lines)
    print(format_report(rows))
    if args.json:
        from hanforge.atomic import atomic_write_json

        atomic_write_json(args.json, rows)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tokenizer",
        help="train, extend or compare tokenizers",
        formatter_class=HelpFormatter,
        description="Train, extend or compare tokenizers (hanforge tokenizer ACTION --help).",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    t = add_verb(sub, "train", train_command, help="train a SentencePiece BPE on text shards, export as HF tokenizer")
    add_inputs(t, "text shard folders (or Parquet files)")
    add_output(t, "tokenizer folder")
    t.add_argument("--vocab-size", type=int, default=32000, metavar="N", help="vocabulary size")
    t.add_argument(
        "--character-coverage",
        type=float,
        default=0.9995,
        metavar="F",
        help="share of characters covered by the vocabulary (rest: byte fallback)",
    )
    t.add_argument("--no-byte-fallback", action="store_true", help="map uncovered characters to <unk>")
    t.add_argument(
        "--symbols",
        nargs="*",
        default=None,
        metavar="SYM",
        help="user-defined symbols (default: <한국어> <영어> <코드>)",
    )
    t.add_argument("--max-lines", type=int, default=0, metavar="N", help="use at most this many lines (0 = all)")
    t.add_argument("--threads", type=int, default=2, metavar="N", help="SentencePiece training threads")
    add_overwrite(t)
    t.add_argument(
        "--no-ksx1001",
        action="store_true",
        help="do not require the 2,350 KS X 1001 Hangul syllables in the base vocabulary",
    )
    t.add_argument("--no-split-digits", action="store_true", help="let numbers merge into multi-digit pieces")
    t.add_argument(
        "--no-common-chars",
        action="store_true",
        help="do not require printable ASCII and common punctuation in the base vocabulary",
    )
    t.add_argument(
        "--pretokenize",
        choices=("none", "morphemes"),
        default="none",
        help="morphemes: learn pieces inside morphemes only (training text split by --analyzer; "
        "the tokenizer still encodes raw text). Needs hanforge[korean]",
    )
    t.add_argument(
        "--analyzer",
        choices=("kiwi", "okt", "komoran"),
        default="kiwi",
        help="morpheme analyzer for --pretokenize morphemes (okt/komoran: konlpy, need a Java runtime)",
    )

    e = add_verb(sub, "extend", extend_command, help="add Korean BPE tokens learned from shards to an HF tokenizer")
    add_inputs(e, "text shard folders (or Parquet files)")
    e.add_argument("--base", required=True, metavar="PATH", help="HF tokenizer folder or tokenizer.json")
    add_output(e, "tokenizer folder")
    e.add_argument("--num-tokens", type=int, required=True, metavar="N", help="Korean tokens to add (at most)")
    e.add_argument(
        "--train-vocab-size",
        type=int,
        default=None,
        metavar="N",
        help="vocabulary of the helper BPE (default: base + 2 × --num-tokens, at most 64k)",
    )
    e.add_argument("--max-lines", type=int, default=0, metavar="N", help="use at most this many lines (0 = all)")
    add_overwrite(e)

    r = add_verb(sub, "report", report_command, help="Korean and English characters per token of tokenizers")
    add_inputs(r, "held-out text shard folders (or Parquet files)")
    r.add_argument("--tokenizer", nargs="+", required=True, metavar="PATH", help="tokenizer folders to compare")
    r.add_argument("--max-lines", type=int, default=0, metavar="N", help="use at most this many lines (0 = all)")
    r.add_argument("--json", default=None, metavar="FILE", help="also write the rows as JSON")
