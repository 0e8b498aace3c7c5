#!/usr/bin/env bash
# The shared loop's benchmark: our plain decoding and prompt lookup vs HF generate / prompt lookup, loop overhead, forward cost curve.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m evaluation.bench_loop "$@"
