"""Data ablation on the LibreOffice help corpus: does hanforge's corpus train a better Korean
model than stock datatrove's, at equal tokens? (``hanforge ablate``; docs/eval.md)

Variants, all from the same input (the ~95% of LibreOffice pages not held out, packed into one
WARC as bench/e2e_vs_datatrove.py does):

  default      hanforge run (default pipeline) + hanforge dedup
  no-quality   the same without the quality and repetition filters (+ dedup)
  no-dedup     the default pipeline, no dedup
  datatrove    the stock datatrove pipeline of bench/e2e_vs_datatrove.py (Trafilatura, Hangul
               ratio >= 0.3, Gopher repetition + quality, PII formatter), no dedup

One shared SentencePiece tokenizer (trained on the union of the variants), the same proxy model
(random init, two seeds), the same token budget; scored in bits/char on held-out LibreOffice pages
(in domain) — never in any variant — and reported with the spread between seeds.

    .venv/bin/python bench/eval_ablation.py --stage text      # CPU: variant corpora + tokenizer
    .venv/bin/python bench/eval_ablation.py --stage cpu       # CPU: small proxy, whole ablation
    .venv/bin/python bench/eval_ablation.py --stage gpu-job --job DIR   # folder for the GPU run
    # on the GPU machine:  PYTHONPATH=DIR/src python -m hanforge.cli ablate DIR/ablate.toml
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from eval_data import prepare  # noqa: E402

VARIANTS = """
[[variants]]
name = "default"
pipeline = "korean-web"
dedup = true

[[variants]]
name = "no-quality"
pipeline = "korean-web"
drop_steps = ["quality", "repetition"]
dedup = true

[[variants]]
name = "no-dedup"
pipeline = "korean-web"

[[variants]]
name = "datatrove"
shards = "{datatrove}"
"""

CPU_PROXY = """
seq_len = 256
batch_size = 16
token_budget = {budget}
learning_rate = 2e-3
warmup_steps = 10
eval_window = 256
eval_stride = 128
max_heldout_chars = {heldout_chars}
backend = "transformers"
[proxy]
hidden_size = 128
num_layers = 2
num_heads = 4
num_kv_heads = 4
intermediate_size = 384
"""

GPU_PROXY = """
seq_len = 512
batch_size = 4
token_budget = {budget}
learning_rate = 1e-3
warmup_steps = 10
eval_window = 512
eval_stride = 256
eval_batch_size = 16
backend = "transformers"
[proxy]
hidden_size = 384
num_layers = 6
num_heads = 6
num_kv_heads = 6
intermediate_size = 1024
"""


def html_folder_to_warc(folder: Path, out: Path, *, every: int = 1) -> Path:
    """Pages of ``folder`` (those with sha1(path) % every == 0) as WARC response records (URLs as in
    e2e_vs_datatrove.py)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    if out.is_file():
        return out
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for path in sorted(folder.rglob("*.html")):
            name = str(path.relative_to(folder))
            if int(hashlib.sha1(name.encode()).hexdigest(), 16) % every:
                continue
            url = f"https://help.libreoffice.org/0/{name.split('help/', 1)[-1]}"
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(path.read_bytes()),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": "2026-11-28T00:00:00Z"},
            )
            writer.write_record(record)
    tmp.replace(out)
    return out


def datatrove_corpus(warc: Path, output: Path, *, timeout: float) -> Path:
    """The stock datatrove pipeline of bench/e2e_vs_datatrove.py on ``warc``, except the
    extractor's time limit: datatrove's default (0.1 s per page) skips most pages of a busy
    machine as timeouts, which would make the baseline corpus depend on the load."""
    import e2e_vs_datatrove as e2e
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LambdaFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    if list((output / "shards").glob("*.parquet")) and (output / "done").is_file():
        return output / "shards"
    shutil.rmtree(output, ignore_errors=True)

    def hangul_ratio_ok(doc) -> bool:
        letters = len(e2e.LETTER.findall(doc.text))
        return letters > 0 and len(e2e.HANGUL.findall(doc.text)) / letters >= 0.3

    pipeline = [
        WarcReader(str(warc.parent), glob_pattern=warc.name),
        Trafilatura(favour_precision=True, timeout=timeout),
        LambdaFilter(hangul_ratio_ok),
        GopherRepetitionFilter(),
        GopherQualityFilter(min_stop_words=None),
        PIIFormatter(),
        ParquetWriter(str(output / "shards")),
    ]
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(output / "logs")).run()
    (output / "done").write_text("ok\n")
    return output / "shards"


def write_config(
    path: Path,
    *,
    output: Path,
    inputs: list[Path],
    heldout: list[Path],
    variants: str,
    proxy: str,
    tokenizer: Path | None = None,
) -> Path:
    head = [
        f'output = "{output}"',
        f'pipelines = "{REPO / "pipelines.toml"}"',
        f"inputs = [{', '.join(f'{chr(34)}{p}{chr(34)}' for p in inputs)}]",
        f"heldout = [{', '.join(f'{chr(34)}{p}{chr(34)}' for p in heldout)}]",
        "seeds = [1, 2]",
        "tokenizer_vocab_size = 16000",
        "workers = 2",
    ]
    if tokenizer:
        head.append(f'tokenizer = "{tokenizer}"')
    path.write_text("\n".join(head) + "\n" + proxy + variants, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["text", "cpu", "gpu-job"], required=True)
    parser.add_argument("--work", type=Path, default=HERE / "_work" / "eval")
    parser.add_argument("--job", type=Path, help="gpu-job: folder to fill (copied to the GPU machine)")
    parser.add_argument("--budget", type=int, default=0, help="tokens per run (default: 400k CPU, 8M GPU)")
    parser.add_argument("--heldout-chars", type=int, default=40000)
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="use the train pages with sha1(path) %% EVERY == 0 (a smaller input on a busy machine)",
    )
    parser.add_argument(
        "--extract-timeout",
        type=float,
        default=30.0,
        help="datatrove Trafilatura time limit per page (its default 0.1 s times out under load)",
    )
    parser.add_argument("--only", choices=["hanforge", "datatrove"], help="text stage: build only these variants")
    args = parser.parse_args()

    from hanforge.eval.ablate import _doc_hash, format_ablation_table, run_ablation, text_stats, variant_text
    from hanforge.eval.ablate_config import load_ablation_config
    from hanforge.eval.texts import read_eval_texts

    data = prepare(args.work)
    suffix = f"-every{args.every}" if args.every > 1 else ""
    warc = html_folder_to_warc(data["lo_train_html"], args.work / f"lo-train{suffix}.warc.gz", every=args.every)
    dt = args.work / f"datatrove-lo-train{suffix}"
    if args.only != "hanforge":
        datatrove_corpus(warc, dt, timeout=args.extract_timeout)
    if args.only == "datatrove":
        return
    dt = dt / "shards"
    out = args.work / f"ablation{suffix}"
    heldout = [data["heldout_lo"]]
    variants = VARIANTS.format(datatrove=dt)
    if args.stage in ("text", "gpu-job"):
        cfg = load_ablation_config(
            write_config(
                args.work / "ablate-text.toml",
                output=out,
                inputs=[warc],
                heldout=heldout,
                variants=variants,
                proxy=CPU_PROXY.format(budget=400_000, heldout_chars=args.heldout_chars),
            )
        )
        hashes = {_doc_hash(t) for t in read_eval_texts(cfg.heldout)}
        texts = {}
        for v in cfg.variants:
            if args.only == "hanforge" and v.shards:
                continue
            texts[v.name] = variant_text(v, cfg, out / "variants" / v.name, log=print)
            print(v.name, text_stats(texts[v.name], hashes, name=v.name))
        tok = out / "tokenizer"
        if args.only == "hanforge":
            return
        if args.stage == "text" and not (tok / "tokenizer.json").is_file():
            from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

            train_tokenizer(inputs=list(texts.values()), output=tok, config=TokenizerTrainConfig(vocab_size=16000))
        if args.stage == "gpu-job":
            job = args.job.resolve()
            shutil.rmtree(job / "data", ignore_errors=True)
            (job / "data").mkdir(parents=True)
            shard_variants = ""
            for name, text in texts.items():
                dest = job / "data" / name
                files = sorted(text.glob("shards/*.parquet")) or sorted(text.glob("*.parquet"))
                dest.mkdir()
                for f in files:
                    shutil.copy(f, dest / f.name)
                shard_variants += f'\n[[variants]]\nname = "{name}"\nshards = "data/{name}"\n'
            shutil.rmtree(job / "src", ignore_errors=True)
            shutil.copytree(
                REPO / "hanforge", job / "src" / "hanforge", ignore=shutil.ignore_patterns("__pycache__", "sample")
            )
            shutil.copytree(data["heldout_lo"] / "shards", job / "data" / "heldout-lo")
            (job / "ablate.toml").write_text(
                'output = "ablation-out"\npipelines = ""\nheldout = ["data/heldout-lo"]\nseeds = [1, 2, 3]\n'
                "tokenizer_vocab_size = 8000\n" + GPU_PROXY.format(budget=args.budget or 8_000_000) + shard_variants,
                encoding="utf-8",
            )
            print(f"wrote {job}/ablate.toml and data/")
        return
    cfg = load_ablation_config(
        write_config(
            args.work / "ablate-cpu.toml",
            output=out,
            inputs=[warc],
            heldout=heldout,
            variants=variants,
            tokenizer=out / "tokenizer",
            proxy=CPU_PROXY.format(budget=args.budget or 400_000, heldout_chars=args.heldout_chars),
        )
    )
    results = run_ablation(cfg, progress=False)
    print(format_ablation_table(results))


if __name__ == "__main__":
    main()
