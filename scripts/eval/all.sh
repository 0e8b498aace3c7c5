#!/usr/bin/env bash
# Usage: scripts/eval/all.sh [evaluation.run options...]   (e.g. --limit 20; DRAFTER=path adds sd)
# Every method over every language, then the report (markdown table + plots) in $OUT_DIR/report.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
out="${OUT_DIR:-outputs/answers}"
methods=(ar pld)
[ -n "${DRAFTER:-}" ] && methods+=(sd)
for lang in ${LANGS:-de fr ja ru zh}; do
  for method in "${methods[@]}"; do
    extra=()
    [ "$method" = sd ] && extra=(--drafter "$DRAFTER")
    OUT_DIR="$out" bash "$here/_run.sh" "$method" "$lang" ${extra[@]+"${extra[@]}"} "$@"
  done
done
cat "$out"/*/ar.jsonl > "$out/ar_all.jsonl"
for method in "${methods[@]}"; do
  [ "$method" = ar ] || cat "$out"/*/"$method".jsonl > "$out/${method}_all.jsonl"
done
python -m evaluation.report --baseline "$out/ar_all.jsonl" \
  --answers $(for m in "${methods[@]}"; do [ "$m" = ar ] || echo "$out/${m}_all.jsonl"; done) --out-dir "$out/report"
cat "$out/report/report.md"
