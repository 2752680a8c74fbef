#!/usr/bin/env bash
# The whole corpus → tokens chain on the embedded Korean sample, in a few seconds per step:
#   run (clean text shards) → dedup → tokenizer train → mix (exact token budget) → tokenize → inspect
# Run from the repository root after `pip install -e .`:   bash examples/walkthrough.sh
set -euo pipefail
W=output/walkthrough
HF=${HANFORGE:-hanforge}
$HF run --input hanforge/sample/libreoffice-help-ko --output $W/help --overwrite
$HF run --input hanforge/sample/debian-faq-ko --output $W/faq --overwrite
$HF dedup $W/help --output $W/dedup-help --config pipelines.toml --overwrite
$HF dedup $W/faq --output $W/dedup-faq --config pipelines.toml --overwrite
$HF tokenizer train --input $W/dedup-help $W/dedup-faq --output $W/tokenizer --vocab-size 4000
$HF mix pipelines.toml --overwrite
$HF tokenize --input $W/mix --tokenizer $W/tokenizer --seq-len 512 --output $W/tokens --overwrite
$HF inspect $W/dedup-help
python3 - <<'PY'
import polars as pl
rows = pl.read_ipc("output/walkthrough/tokens/tokens-00000.arrow")
print(f"token shard: {rows.height} rows of {rows['input_ids'].dtype}")
PY
