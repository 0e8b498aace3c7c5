#!/usr/bin/env bash
# Usage: scripts/eval/_run.sh METHOD LANG [evaluation.run options...]
# Runs METHOD over the LANG->English translation questions (built from gettext catalogs on first
# use), or over the project's built-in multilingual set when LANG is "builtin".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
method="$1"; lang="$2"; shift 2
if [ "$lang" = builtin ]; then
  questions="data/questions/builtin.jsonl"
  [ -f "$questions" ] || python -m data_processing.build_builtin --out "$questions"
else
  questions="data/questions/translation_${lang}.jsonl"
  [ -f "$questions" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
fi
python -m evaluation.run --method "$method" --questions "$questions" \
  --out "${OUT_DIR:-outputs/answers}/${lang}/${method}.jsonl" "$@"
