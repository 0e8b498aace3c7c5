#!/usr/bin/env bash
# Usage: scripts/judge/serve.sh [llm_judge.serve options...]
# An OpenAI-compatible server on the embedded target by default, e.g.
#   bash scripts/judge/serve.sh --method pld --port 8000
#   bash scripts/judge/serve.sh --model path/to/model --method eagle2 --head outputs/eagle/de/final
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
args=("$@")
[[ " ${args[*]} " == *" --model "* ]] || args=(--model gemma-3-270m "${args[@]}")
exec python -m llm_judge.serve "${args[@]}"
