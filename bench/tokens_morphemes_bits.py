"""Benchmark: ``--pretokenize morphemes`` vs the default tokenizer through a proxy model's bits/char.

Run (from the repo root; the LibreOffice help and Debian FAQ unpacked as ``bench/tokens_data.py``
says, or pointed at with ``--lo-root`` / ``--faq-root``)::

    PYTHONPATH=$PWD python bench/tokens_morphemes_bits.py --vocab-size 8000 --budget 65536

chars/token (``bench/tokens_morphemes.py``) says what a tokenizer costs; whether a model learns
Korean better from morpheme pieces needs a model. bits/char (``hanforge eval``'s
:func:`~hanforge.eval.bits.bits_per_char`) does not depend on the tokenizer, so two models with
different tokenizers are compared on it directly. Here:

1. both tokenizers (SentencePiece BPE, the same settings except ``pretokenize = "morphemes"``,
   Kiwi) are trained by hanforge on the same shards (9 of every 10 LibreOffice help pages);
2. that text is tokenized with each (``hanforge tokenize``'s function, shuffled with seed 0);
3. ``hanforge ablate``'s proxy (random init per seed, ``hanforge train --stage cpt``'s function,
   :func:`~hanforge.eval.ablate.init_proxy` / :func:`~hanforge.eval.ablate.train_proxy`) is
   trained on each, once per seed, and scored in bits/char on held-out text never trained on: the
   10th LibreOffice page (same domain) and the Debian FAQ (another manual, prose).

Budgets: the default tokenizer trains on ``--budget`` tokens. The morpheme tokenizer is trained
twice: on the same number of **tokens** (``hanforge ablate``'s rule; it then sees fewer characters,
since its tokens are shorter) and on the same number of **characters** (its budget scaled by its
tokens/char on the training text over the default's). Equal characters is the fair comparison
of tokenizers (the same text seen); equal tokens is equal compute per step count. (``hanforge
ablate`` compares corpora with one tokenizer, so it cannot run this itself.)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tokens_data
from tokens_morphemes import split_heldout

CPU_PROXY = {
    "seq_len": 256,
    "batch_size": 16,
    "learning_rate": 2e-3,
    "warmup_steps": 10,
    "eval_window": 256,
    "eval_stride": 128,
    "backend": "transformers",
    "proxy": {"hidden_size": 128, "num_layers": 2, "num_heads": 4, "num_kv_heads": 4, "intermediate_size": 384},
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/hanforge-bench-tokens-morphemes"))
    ap.add_argument("--lo-root", type=Path, default=tokens_data.LO_ROOT)
    ap.add_argument("--faq-root", type=Path, default=tokens_data.FAQ_ROOT)
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--analyzer", default="kiwi", help="kiwi, okt or komoran")
    ap.add_argument("--budget", type=int, default=65536, help="tokens per run of the default tokenizer")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--heldout-chars", type=int, default=10000, help="characters scored per held-out set")
    ap.add_argument("--no-equal-tokens", action="store_true", help="skip the morpheme run at equal tokens")
    ap.add_argument("--out", type=Path, help="also write the table here (.md) and the results beside it (.json)")
    args = ap.parse_args()

    import torch

    from hanforge.eval.ablate import init_proxy, train_proxy
    from hanforge.eval.ablate_config import AblationConfig
    from hanforge.eval.bits import bits_per_char
    from hanforge.eval.models import load_causal_lm
    from hanforge.eval.texts import read_eval_texts
    from hanforge.tokenizer.tokenize_job import tokenize_shards
    from hanforge.tokenizer.train import TokenizerTrainConfig, iter_shard_texts, train_tokenizer

    tokens_data.LO_ROOT, tokens_data.FAQ_ROOT = args.lo_root, args.faq_root
    train, held = tokens_data.text_shards(args.work)
    heldout = {
        name: read_eval_texts([p], max_chars=args.heldout_chars) for name, p in split_heldout(held, args.work).items()
    }
    seeds = [int(s) for s in args.seeds.split(",")]
    base = AblationConfig.from_table(
        {
            **CPU_PROXY,
            "token_budget": args.budget,
            "heldout": [str(held)],
            "variants": [{"name": "lo", "shards": str(train)}],
        },
        where="bench proxy",
    )
    step_tokens = base.batch_size * base.seq_len

    toks: dict[str, tuple[Path, dict]] = {}
    for name, kw in (
        ("default", {}),
        (f"morphemes-{args.analyzer}", {"pretokenize": "morphemes", "morpheme_analyzer": args.analyzer}),
    ):
        folder = args.work / f"tok-{args.vocab_size // 1000}k-{name}"
        t0 = time.perf_counter()
        train_tokenizer(inputs=[train], output=folder, config=TokenizerTrainConfig(vocab_size=args.vocab_size, **kw))
        manifest = tokenize_shards(
            inputs=[train], tokenizer=folder, seq_len=base.seq_len, output=args.work / f"tokens-{folder.name}",
            shuffle_seed=0, overwrite=True, progress=False,
        )  # fmt: skip
        print(
            f"{name}: tokenizer + {manifest['num_tokens']:,} training tokens ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        toks[name] = (folder, manifest)
    (_, m_def), (morph_name, (_, m_mor)) = toks["default"], list(toks.items())[1]
    ratio = m_mor["num_tokens"] / m_def["num_tokens"]  # morpheme tokens per default token, same training text
    chars_budget = max(1, round(args.budget * ratio / step_tokens)) * step_tokens
    runs = [("default", "default", args.budget)]
    if not args.no_equal_tokens:
        runs.append((f"{morph_name}, equal tokens", morph_name, args.budget))
    runs.append((f"{morph_name}, equal chars", morph_name, chars_budget))

    train_chars = sum(len(t) for _, t in iter_shard_texts([train]))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = []
    for label, tok_name, budget in runs:
        tok_dir, manifest = toks[tok_name]
        cfg = dataclasses.replace(base, token_budget=budget)
        tokens = cfg.num_steps * step_tokens
        row = {"run": label, "tokenizer": tok_name, "budget_tokens": tokens, "runs": []}
        row["train_chars"] = round(tokens * train_chars / manifest["num_tokens"])  # at the text's mean chars/token
        for seed in seeds:
            t0 = time.perf_counter()
            init = init_proxy(cfg, tok_dir, seed=seed, folder=args.work / "init" / tok_name / f"seed-{seed}")
            run_dir = (
                args.work
                / "runs"
                / f"budget-{args.budget}"
                / label.replace(", ", "-").replace(" ", "-")
                / f"seed-{seed}"
            )
            summary = train_proxy(
                cfg, init=init, tokenizer_dir=tok_dir, tokens=args.work / f"tokens-{tok_dir.name}", seed=seed,
                output=run_dir, progress=False, log=lambda _m: None,
            )  # fmt: skip
            model, tokenizer = load_causal_lm(run_dir / "merged", device=device, dtype="float32")
            window = {"window": cfg.eval_window, "stride": cfg.eval_stride, "batch_size": cfg.eval_batch_size}
            scored = {h: bits_per_char(model, tokenizer, texts, **window) for h, texts in heldout.items()}
            del model
            row["runs"].append(
                {
                    "seed": seed,
                    "steps": summary.steps,
                    "last_loss": summary.last_loss,
                    "seconds": time.perf_counter() - t0,
                }
                | {f"{h}_bits_per_char": s.bits_per_char for h, s in scored.items()}
                | {f"{h}_chars_per_token": s.chars_per_token for h, s in scored.items()}
                | {f"{h}_not_roundtrip": s.num_docs_not_roundtrip for h, s in scored.items()}
            )
            print(f"[{label}] seed {seed}: " + ", ".join(f"{h} {s.bits_per_char:.4f}" for h, s in scored.items())
                  + f" bits/char ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        for h in heldout:
            vals = [r[f"{h}_bits_per_char"] for r in row["runs"]]
            row[f"{h}_mean"], row[f"{h}_spread"] = sum(vals) / len(vals), max(vals) - min(vals)
        results.append(row)

    text = format_table(results, heldout=heldout, seeds=seeds, ratio=ratio, vocab=args.vocab_size, cfg=base)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


def format_table(results: list[dict], *, heldout: dict, seeds: list[int], ratio: float, vocab: int, cfg) -> str:
    names = list(heldout)
    head = (
        "| run | tokens | ≈ chars | "
        + " | ".join(f"{h} bits/char seed {s}" for h in names for s in seeds)
        + " | "
        + " | ".join(f"{h} mean (spread) | {h} Δ vs default" for h in names)
        + " |"
    )
    lines = [
        f"# Morpheme tokenizer vs default through a proxy's bits/char ({datetime.date.today()}, vocab {vocab:,})",
        "",
        head,
        "| --- " + "| ---: " * (2 + len(names) * len(seeds) + 2 * len(names)) + "|",
    ]
    for r in results:
        per_seed = " | ".join(f"{run[f'{h}_bits_per_char']:.4f}" for h in names for run in r["runs"])
        stats = " | ".join(
            f"{r[f'{h}_mean']:.4f} ({r[f'{h}_spread']:.4f}) | {r[f'{h}_mean'] - results[0][f'{h}_mean']:+.4f}"
            for h in names
        )
        lines.append(f"| {r['run']} | {r['budget_tokens']:,} | {r['train_chars']:,} | {per_seed} | {stats} |")
    noise = {h: max(r[f"{h}_spread"] for r in results) for h in names}
    lines += [
        "",
        f"Morpheme tokens per default token on the training text: {ratio:.3f}. Held out: "
        + ", ".join(f"{h} {len(t)} docs, {sum(map(len, t)):,} chars" for h, t in heldout.items())
        + f". Proxy: hidden {cfg.proxy.hidden_size}, {cfg.proxy.num_layers} layers, seq {cfg.seq_len}, "
        f"batch {cfg.batch_size}, lr {cfg.learning_rate}. Noise (largest spread between seeds): "
        + ", ".join(f"{h} {n:.4f}" for h, n in noise.items())
        + " bits/char; a Δ smaller than that is not a difference.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
