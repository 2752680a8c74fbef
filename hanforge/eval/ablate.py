"""``hanforge ablate``: does this corpus make a better model? Train the same proxy on each variant.

The loop FineWeb and DCLM used to choose their filters, on hanforge's own parts:

1. each variant's text: a pipelines.toml pipeline run on the shared ``inputs`` (optionally with
   steps removed, then ``hanforge dedup``), a ``[mix]``, or text shards made by another tool;
2. one shared tokenizer (given, or a SentencePiece BPE trained on the union of the variants);
   every variant's text is tokenized with it (``hanforge tokenize``);
3. the same proxy model (fixed small Llama-style config, random init from the seed) is trained
   on each variant for the same number of tokens with ``hanforge train --stage cpt``'s function
   (full fine-tuning from the random init), once per seed;
4. every trained model is scored in bits per character on one shared held-out Korean set, which
   is checked to share no document with any variant;
5. one table (Markdown + JSON) and a plot; the spread between seeds sits beside the differences
   between variants, so a difference smaller than the noise reads as one.

Reruns resume: finished pipeline runs, token shards and training runs are reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hanforge.atomic import atomic_write_json
from hanforge.errors import ConfigError, InputError
from hanforge.eval.ablate_config import AblationConfig, VariantConfig


def _doc_hash(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


def variant_text(v: VariantConfig, cfg: AblationConfig, folder: Path, *, log: Callable[[str], None]) -> Path:
    """Build (or reuse) the variant's text shards; return a path ``text_shard_files`` accepts."""
    if v.shards:
        if not Path(v.shards).exists():
            raise InputError(f"variant {v.name}: shards {v.shards} do not exist")
        return Path(v.shards)
    if v.mix:
        from hanforge.corpus.mix import load_mix_config, mix_sources

        mix = load_mix_config(v.mix)
        mix.output = str(folder / f"{v.name}-mix")
        log(f"[{v.name}] mix {v.mix}")
        mix_sources(mix, overwrite=True)
        return folder / f"{v.name}-mix"
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline

    pipeline = load_pipelines(cfg.pipelines).pipeline(v.pipeline)
    types = [s.get("type") for s in pipeline.steps]
    unknown = sorted(set(v.drop_steps) - set(types))
    if unknown:
        raise ConfigError(
            f"variants.{v.name}.drop_steps: {', '.join(unknown)} not in pipeline "
            f"{v.pipeline} (steps: {', '.join(map(str, types))})"
        )
    steps = [s for s in pipeline.steps if s.get("type") not in v.drop_steps]
    # folders named after the variant: shard keys (input folder name + file) stay unique in the union
    overrides = {"inputs": list(cfg.inputs), "output": str(folder / f"{v.name}-run"), "steps": steps}
    run_cfg = pipeline.merge({**overrides, "workers": cfg.workers, "executor": "local"})
    log(f"[{v.name}] hanforge run {v.pipeline}" + (f" without {', '.join(v.drop_steps)}" if v.drop_steps else ""))
    run_pipeline(run_cfg, overwrite=True)
    if not v.dedup:
        return folder / f"{v.name}-run"
    from hanforge.corpus.dedup.run import run_dedup

    log(f"[{v.name}] hanforge dedup")
    run_dedup([folder / f"{v.name}-run"], output=folder / f"{v.name}-dedup", workers=cfg.workers, overwrite=True)
    return folder / f"{v.name}-dedup"


def text_stats(text: Path, heldout_hashes: set[str], *, name: str) -> dict[str, int]:
    """Documents and characters of a variant; a ConfigError if it holds a held-out document."""
    from hanforge.tokenizer.train import iter_shard_texts

    num_docs = num_chars = overlap = 0
    for _, doc in iter_shard_texts([text]):
        num_docs += 1
        num_chars += len(doc)
        overlap += _doc_hash(doc) in heldout_hashes
    if overlap:
        raise ConfigError(
            f"variant {name}: {overlap} of its documents are in the held-out set; "
            "held-out text must never be trained on (split the inputs first)"
        )
    if not num_docs:
        raise InputError(f"variant {name}: no documents in {text}")
    return {"num_docs": num_docs, "num_chars": num_chars}


def init_proxy(cfg: AblationConfig, tokenizer_dir: Path, *, seed: int, folder: Path) -> Path:
    """The proxy model, randomly initialised from ``seed``, saved once per seed."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (folder / "config.json").is_file():
        return folder
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    p = cfg.proxy
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=p.hidden_size,
        intermediate_size=p.intermediate_size,
        num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads,
        num_key_value_heads=p.num_kv_heads,
        max_position_embeddings=max(cfg.seq_len, cfg.eval_window),
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    return folder


def train_proxy(
    cfg: AblationConfig,
    *,
    init: Path,
    tokenizer_dir: Path,
    tokens: Path,
    seed: int,
    output: Path,
    progress: bool,
    log: Callable[[str], None],
):
    """Train the proxy with hanforge's one trainer (stage cpt, full fine-tuning from the random init)."""
    from hanforge.train.config import TrainConfig
    from hanforge.train.trainer import train

    config = TrainConfig.from_table(
        {
            "output": str(output),
            "stage": "cpt",
            "seed": seed,
            "model": {
                "path": str(init),
                "tokenizer": str(tokenizer_dir),
                "finetuning": "full",
                "gradient_checkpointing": False,
                "max_seq_length": cfg.seq_len,
            },
            "optim": {
                "learning_rate": cfg.learning_rate,
                "embedding_learning_rate": cfg.learning_rate,
                "warmup_steps": min(cfg.warmup_steps, max(0, cfg.num_steps - 1)),
                "schedule": "cosine",
                "weight_decay": 0.1,
            },
            "data": {"token_shards": str(tokens)},
            "run": {
                "batch_size": cfg.batch_size,
                "max_steps": cfg.num_steps,
                "log_every": max(1, cfg.num_steps // 20),
                "tensorboard": False,
            },
            "export": {"adapter": False, "merged": True, "merged_dtype": "float32"},
        },
        where="ablation proxy",
    )
    return train(config, backend=cfg.backend, progress=progress, log=log)


def run_ablation(cfg: AblationConfig, *, progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every variant × seed; write ``table.md``, ``results.json`` and ``bits_per_char.png``."""
    import torch

    from hanforge.eval.texts import read_eval_texts

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    heldout = read_eval_texts(cfg.heldout, max_chars=cfg.max_heldout_chars)
    heldout_hashes = {_doc_hash(t) for t in read_eval_texts(cfg.heldout)}
    texts: dict[str, Path] = {}
    rows: list[dict[str, Any]] = []
    for v in cfg.variants:
        texts[v.name] = variant_text(v, cfg, out / "variants" / v.name, log=log)
        rows.append({"name": v.name, "source": v.to_dict(), **text_stats(texts[v.name], heldout_hashes, name=v.name)})
    tok_dir = _shared_tokenizer(cfg, texts=list(texts.values()), out=out, log=log)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    run = {"cfg": cfg, "tok_dir": tok_dir, "heldout": heldout, "device": device, "progress": progress, "log": log}
    for row, v in zip(rows, cfg.variants, strict=True):
        row.update(_score_variant(v.name, text=texts[v.name], folder=out / "variants" / v.name, out=out, **run))
    base = rows[0]["mean_bits_per_char"]
    for row in rows:
        row["delta_vs_first"] = row["mean_bits_per_char"] - base
    results = {
        "variants": rows,
        "noise": max(r["seed_spread"] for r in rows),
        "heldout": {"inputs": cfg.heldout, "num_docs": len(heldout), "num_chars": sum(len(t) for t in heldout)},
        "budget_tokens": cfg.num_steps * cfg.batch_size * cfg.seq_len,
        "num_steps": cfg.num_steps,
        "seeds": cfg.seeds,
        "proxy": cfg.proxy.to_dict(),
        "tokenizer": str(tok_dir),
        "device": device,
    }
    table = format_ablation_table(results)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    plot = plot_ablation(results, out / "bits_per_char.png")
    results["plot"] = str(plot) if plot else None
    atomic_write_json(out / "results.json", json.loads(json.dumps(results, default=str)))
    return results


def _shared_tokenizer(cfg: AblationConfig, *, texts: list[Path], out: Path, log: Callable[[str], None]) -> Path:
    """``cfg.tokenizer``, or a SentencePiece BPE trained once on the union of the variants' text."""
    tok_dir = Path(cfg.tokenizer) if cfg.tokenizer else out / "tokenizer"
    if not cfg.tokenizer and not (tok_dir / "tokenizer.json").is_file():
        from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

        log(f"shared tokenizer: SentencePiece BPE ({cfg.tokenizer_vocab_size}) on the union of the variants")
        train_tokenizer(inputs=texts, output=tok_dir, config=TokenizerTrainConfig(vocab_size=cfg.tokenizer_vocab_size))
    return tok_dir


def _score_variant(
    name: str,
    *,
    text: Path,
    folder: Path,
    out: Path,
    cfg: AblationConfig,
    tok_dir: Path,
    heldout: list[str],
    device: str,
    progress: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Tokenize one variant, train a proxy per seed on it and score each on the held-out text."""
    from hanforge.eval.bits import bits_per_char
    from hanforge.eval.models import load_causal_lm
    from hanforge.tokenizer.tokenize_job import tokenize_shards

    manifest = tokenize_shards(
        inputs=[text],
        tokenizer=tok_dir,
        seq_len=cfg.seq_len,
        output=folder / "tokens",
        shuffle_seed=0,
        overwrite=True,
        progress=progress,
    )
    budget_tokens = cfg.num_steps * cfg.batch_size * cfg.seq_len
    num_rows = int(manifest["num_rows"])
    row = {
        "num_tokens": int(manifest["num_tokens"]),
        "num_rows": num_rows,
        "epochs": budget_tokens / max(1, num_rows * cfg.seq_len),
        "runs": [],
    }
    for seed in cfg.seeds:
        init = init_proxy(cfg, tok_dir, seed=seed, folder=out / "init" / f"seed-{seed}")
        log(f"[{name}] train proxy, seed {seed}: {cfg.num_steps} steps x {cfg.batch_size} x {cfg.seq_len} tokens")
        run_dir = folder / f"seed-{seed}"
        summary = train_proxy(
            cfg, init=init, tokenizer_dir=tok_dir, tokens=folder / "tokens", seed=seed, output=run_dir,
            progress=progress, log=log,
        )  # fmt: skip
        model, tokenizer = load_causal_lm(run_dir / "merged", device=device, dtype="float32")
        window = {"window": cfg.eval_window, "stride": cfg.eval_stride, "batch_size": cfg.eval_batch_size}
        scored = bits_per_char(model, tokenizer, heldout, **window)
        del model
        row["runs"].append(
            {
                "seed": seed,
                "bits_per_char": scored.bits_per_char,
                "bits_per_byte": scored.bits_per_byte,
                "last_loss": summary.last_loss,
                "steps": summary.steps,
                "trained_tokens": summary.num_tokens,
            }
        )
        log(f"[{name}] seed {seed}: {scored.bits_per_char:.4f} bits/char on the held-out set")
    bpcs = [r["bits_per_char"] for r in row["runs"]]
    row["mean_bits_per_char"] = sum(bpcs) / len(bpcs)
    row["seed_spread"] = max(bpcs) - min(bpcs)
    return row


def format_ablation_table(results: dict[str, Any]) -> str:
    """The comparison table (Markdown), noise line included."""
    rows = results["variants"]
    seeds = results["seeds"]
    head = (
        "| variant | docs | chars | tokens | epochs | "
        + " | ".join(f"bits/char seed {s}" for s in seeds)
        + " | mean | seed spread | Δ vs "
        + rows[0]["name"]
        + " |"
    )
    lines = [head, "| --- " + "| ---: " * (5 + len(seeds) + 2) + "|"]
    for r in rows:
        per_seed = " | ".join(f"{run['bits_per_char']:.4f}" for run in r["runs"])
        lines.append(
            f"| {r['name']} | {r['num_docs']:,} | {r['num_chars']:,} | {r['num_tokens']:,} | {r['epochs']:.2f} | "
            f"{per_seed} | {r['mean_bits_per_char']:.4f} | {r['seed_spread']:.4f} | "
            f"{r['delta_vs_first']:+.4f} |"
        )
    lines.append(
        f"\nHeld-out: {results['heldout']['num_docs']:,} documents, {results['heldout']['num_chars']:,} "
        f"characters. Each run: {results['num_steps']} steps, {results['budget_tokens']:,} tokens. "
        f"Noise (largest spread between seeds): {results['noise']:.4f} bits/char; a Δ smaller than "
        "that is not a difference."
    )
    return "\n".join(lines)


def plot_ablation(results: dict[str, Any], path: Path) -> Path | None:
    """Bits/char per variant (each seed a dot, the mean a bar); None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = results["variants"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(rows), 3.6))
    xs = range(len(rows))
    ax.bar(xs, [r["mean_bits_per_char"] for r in rows], color="#9ab", width=0.6)
    for x, r in zip(xs, rows, strict=True):
        ax.plot([x] * len(r["runs"]), [run["bits_per_char"] for run in r["runs"]], "o", color="#234")
    lo = min(run["bits_per_char"] for r in rows for run in r["runs"])
    hi = max(run["bits_per_char"] for r in rows for run in r["runs"])
    pad = max(0.02, (hi - lo) * 0.5)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xticks(list(xs), [r["name"] for r in rows], rotation=20)
    ax.set_ylabel("held-out bits/char (lower is better)")
    ax.set_title(f"same proxy, {results['budget_tokens']:,} tokens each; dots = seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
