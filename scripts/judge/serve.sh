#!/usr/bin/env bash
# Usage: scripts/judge/serve.sh [llm_judge.serve options...]
# An OpenAI-compatible server (the embedded target unless --model), e.g.
#   bash scripts/judge/serve.sh --method M --port 8000          (multispec methods: every M and its options)
#   bash scripts/judge/serve.sh --model path/to/model --method M --head HEAD
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec python -m llm_judge.serve "$@"
