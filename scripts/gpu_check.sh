#!/usr/bin/env bash
# The prepared GPU check (< 10 min on one GPU): every method on the embedded target, lossless against plain decoding,
# host syncs and CUDA syncs per target forward, loop overhead share; one summary table (evaluation/gpu_check.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m evaluation.gpu_check "$@"
