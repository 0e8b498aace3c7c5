#!/usr/bin/env bash
# Usage: scripts/eval/runs.sh NAME="evaluation.run options" ...
#   e.g. OUT_DIR=outputs/bench/x LANGS="de fr" scripts/eval/runs.sh eagle2-big="--method eagle2 --head H --total-tokens 20"
# Named runs (any methods, or one method with different heads or options) side by side with ar, question by
# question per language, then one report over all languages in $OUT_DIR/report. Answers: $OUT_DIR/LANG/NAME.jsonl.
# Env: OUT_DIR (required), LANGS (de fr ja ru zh), LIMIT (20), MAX_NEW_TOKENS (64).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
out="${OUT_DIR:?set OUT_DIR}"
[ $# -gt 0 ] || { echo "usage: $0 NAME=\"OPTIONS\" ..." >&2; exit 2; }
runs=(--run ar="--method ar"); names=()
for spec in "$@"; do runs+=(--run "$spec"); names+=("${spec%%=*}"); done
read -r -a langs <<< "${LANGS:-de fr ja ru zh}"
[ ${#langs[@]} -gt 0 ] || { echo "LANGS names no language" >&2; exit 2; }
for lang in "${langs[@]}"; do
  python -m evaluation.side_by_side --questions "$(bash "$here/questions.sh" "$lang")" --out-dir "$out/$lang" \
    --limit "${LIMIT:-20}" --max-new-tokens "${MAX_NEW_TOKENS:-64}" "${runs[@]}"
done
answers=()
for name in ar "${names[@]}"; do  # these languages' answers only, whatever else an earlier run left in $out
  files=(); for lang in "${langs[@]}"; do files+=("$out/$lang/$name.jsonl"); done
  cat "${files[@]}" > "$out/${name}_all.jsonl"
  [ "$name" = ar ] || answers+=("$out/${name}_all.jsonl")
done
python -m evaluation.report --baseline "$out/ar_all.jsonl" --out-dir "$out/report" --answers "${answers[@]}"
cat "$out/report/report.md"
