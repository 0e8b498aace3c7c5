#!/usr/bin/env bash
# Usage: scripts/quantize.sh LANG [DRAFTER]   (default de, and the middle drafter of scripts/size_sweep.sh)
# ar and sd with the drafter and/or the target quantized to int8 on CPU: speed, MAT, agreement with the
# float32 target and losslessness against ar of the same target (evaluation/quantization.py).
# env: GAMMA (3), LIMIT (20)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
lang="${1:-de}"
drafter="${2:-outputs/size_sweep/$lang/drafters/h256-l2/finetune/final}"
[ -d "$drafter" ] || { echo "no drafter at $drafter: run scripts/size_sweep.sh $lang or pass one" >&2; exit 1; }
python -m evaluation.quantization --drafter "$drafter" --questions "data/questions/translation_${lang}.jsonl" \
  --out-dir "outputs/quantization/$lang" --gamma "${GAMMA:-3}" --limit "${LIMIT:-20}"
