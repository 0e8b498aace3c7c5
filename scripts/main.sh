#!/usr/bin/env bash
# Set up the environment if needed, then run the main job on the embedded default target:
# the shared-loop benchmark (our loop vs HF generate, loop overhead, forward cost curve) and
# ar / pld per language. Extra arguments go to evaluation.bench_loop (e.g. --drafter PATH).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m evaluation.bench_loop "$@"
