#!/usr/bin/env bash
# Usage: scripts/eval/questions.sh LANG   -> prints the question file of LANG->English translation
# (built from gettext catalogs on first use), of its long stratum when LANG is e.g. "de-long" (English of
# >= 15 words), or of the built-in multilingual set when LANG is "builtin".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
if [ "$1" = builtin ]; then
  questions="data/questions/builtin.jsonl"
  [ -f "$questions" ] || python -m data_processing.build_builtin --out "$questions" >&2
else
  questions="data/questions/translation_${1/-long/_long}.jsonl"
  [ -f "$questions" ] || python -m data_processing.build_translation --langs "${1%-long}" --out-dir data >&2
fi
echo "$questions"
