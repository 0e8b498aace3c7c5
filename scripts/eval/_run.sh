#!/usr/bin/env bash
# Usage: scripts/eval/_run.sh METHOD LANG [evaluation.run options...]
# Runs METHOD over LANG's questions (scripts/eval/questions.sh) into $OUT_DIR/LANG/METHOD.jsonl.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
method="$1"; lang="$2"; shift 2
questions="$(bash "$here/questions.sh" "$lang")"
python -m evaluation.run --method "$method" --questions "$questions" \
  --out "${OUT_DIR:-outputs/answers}/${lang}/${method}.jsonl" "$@"
