#!/usr/bin/env bash
# The whole corpus → tokens chain on the embedded Korean sample, in a few seconds per step:
#   run (clean text shards) → dedup → tokenizer train → mix (exact token budget) → tokenize → inspect
# Run from the repository root right after the README's first command:   bash examples/walkthrough.sh
# (uses .venv/bin/hanforge when it exists, else `hanforge` on PATH, else `python3 -m hanforge`;
# HANFORGE=... picks another).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${HANFORGE:-}" ]]; then HF=$HANFORGE
elif [[ -x .venv/bin/hanforge ]]; then HF=.venv/bin/hanforge
elif command -v hanforge >/dev/null; then HF=hanforge
else HF="python3 -m hanforge"
fi
W=output/walkthrough
Q=--no-progress
$HF run hanforge/sample/libreoffice-help-ko --output $W/help --overwrite $Q
$HF run hanforge/sample/debian-faq-ko --output $W/faq --overwrite $Q
$HF dedup $W/help --output $W/dedup-help --config pipelines.toml --overwrite $Q
$HF dedup $W/faq --output $W/dedup-faq --config pipelines.toml --overwrite $Q
$HF tokenizer train $W/dedup-help $W/dedup-faq --output $W/tokenizer --vocab-size 4000 --overwrite
$HF mix --config pipelines.toml --overwrite
$HF tokenize $W/mix --tokenizer $W/tokenizer --seq-len 512 --output $W/tokens --overwrite $Q
$HF inspect $W/dedup-help
$HF inspect $W/tokens         # token shards: counts, packing efficiency, Arrow schema
