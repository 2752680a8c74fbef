"""``hanforge tokenizer train|extend|report``: thin wrappers over :mod:`hanforge.tokenizer`."""

from __future__ import annotations

import argparse


def _train(args: argparse.Namespace) -> int:
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    table = {"vocab_size": args.vocab_size, "character_coverage": args.character_coverage,
             "byte_fallback": not args.no_byte_fallback, "max_lines": args.max_lines,
             "num_threads": args.threads, "ksx1001_syllables": not args.no_ksx1001,
             "split_digits": not args.no_split_digits}
    if args.symbols is not None:
        table["user_defined_symbols"] = args.symbols
    config = TokenizerTrainConfig.from_table(table, where="tokenizer train")
    m = train_tokenizer(inputs=args.input, output=args.output, config=config)
    print(f"trained SentencePiece BPE: vocab {m['vocab_size']:,} from {m['num_lines']:,} lines "
          f"({m['num_chars']:,} chars, {m['num_docs']:,} docs; {m['num_lines_cut']:,} long lines cut)")
    print(f"wrote {args.output}/tokenizer.json, sentencepiece.model, manifest.json")
    return 0


def _extend(args: argparse.Namespace) -> int:
    from hanforge.tokenizer.extend import extend_tokenizer

    m = extend_tokenizer(base=args.base, inputs=args.input, output=args.output, num_new_tokens=args.num_tokens,
                         train_vocab_size=args.train_vocab_size, max_lines=args.max_lines)
    print(f"added {m['num_added_tokens']:,} Korean tokens: vocab {m['base_vocab_size']:,} → {m['vocab_size']:,}")
    print(f"wrote {args.output}/tokenizer.json, new_tokens.json, manifest.json")
    return 0


def _report(args: argparse.Namespace) -> int:
    from hanforge.tokenizer.report import format_report, tokenizer_report

    rows = tokenizer_report(inputs=args.input, tokenizers=args.tokenizer, max_lines=args.max_lines)
    print(format_report(rows))
    if args.json:
        from hanforge.atomic import atomic_write_json

        atomic_write_json(args.json, rows)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("tokenizer", help="train, extend or compare tokenizers")
    sub = p.add_subparsers(dest="tokenizer_verb", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train a SentencePiece BPE on text shards, export as HF tokenizer")
    t.add_argument("--input", nargs="+", required=True, metavar="SHARDS")
    t.add_argument("--output", required=True, metavar="DIR")
    t.add_argument("--vocab-size", type=int, default=32000)
    t.add_argument("--character-coverage", type=float, default=0.9995)
    t.add_argument("--no-byte-fallback", action="store_true")
    t.add_argument("--symbols", nargs="*", default=None, metavar="SYM",
                   help="user-defined symbols (default: <한국어> <영어> <코드>)")
    t.add_argument("--max-lines", type=int, default=0, help="use at most this many lines (0 = all)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--no-ksx1001", action="store_true",
                   help="do not require the 2,350 KS X 1001 Hangul syllables in the base vocabulary")
    t.add_argument("--no-split-digits", action="store_true", help="let numbers merge into multi-digit pieces")
    t.set_defaults(func=_train)

    e = sub.add_parser("extend", help="add Korean BPE tokens learned from shards to an HF tokenizer")
    e.add_argument("--base", required=True, metavar="PATH", help="HF tokenizer folder or tokenizer.json")
    e.add_argument("--input", nargs="+", required=True, metavar="SHARDS")
    e.add_argument("--output", required=True, metavar="DIR")
    e.add_argument("--num-tokens", type=int, required=True, help="Korean tokens to add (at most)")
    e.add_argument("--train-vocab-size", type=int, default=None)
    e.add_argument("--max-lines", type=int, default=0)
    e.set_defaults(func=_extend)

    r = sub.add_parser("report", help="Korean and English characters per token of tokenizers")
    r.add_argument("--input", nargs="+", required=True, metavar="SHARDS", help="held-out text shards")
    r.add_argument("--tokenizer", nargs="+", required=True, metavar="PATH")
    r.add_argument("--max-lines", type=int, default=0)
    r.add_argument("--json", default=None, metavar="FILE", help="also write the rows as JSON")
    r.set_defaults(func=_report)
