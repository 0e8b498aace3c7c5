#!/usr/bin/env bash
# Usage: scripts/bench_hydra_context.sh [LANG ...]   (default de fr ja ru zh)
# Medusa, Hydra and Hydra++ (a Hydra head trained with task_args.context_layers=1) side by side with ar,
# question by question per language, then one report. Heads: outputs/medusa/$HEADS, outputs/hydra/$HEADS and
# outputs/hydra/$HEADS-context (scripts/train/multilingual_head.sh, NAME=multi-context for the last), each
# with its tree of $CPU_TREE_NODES nodes. Env: HEADS (multi), LIMIT (20), OUT_DIR (outputs/bench/five-multi-hydra).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
heads="${HEADS:-multi}"
out="${OUT_DIR:-outputs/bench/five-multi-hydra}"
n="$CPU_TREE_NODES"
declare -A folder=([medusa]="outputs/medusa/$heads" [hydra]="outputs/hydra/$heads" [hydra-context]="outputs/hydra/$heads-context")
for name in "${!folder[@]}"; do
  [ -f "${folder[$name]}/tree$n.json" ] || { echo "no ${folder[$name]}/tree$n.json: train $name with scripts/train/multilingual_head.sh" >&2; exit 1; }
done
langs=("$@"); [ ${#langs[@]} -gt 0 ] || langs=(de fr ja ru zh)
for lang in "${langs[@]}"; do
  python -m evaluation.side_by_side --questions "$(bash "$here/eval/questions.sh" "$lang")" --out-dir "$out/$lang" \
    --limit "${LIMIT:-20}" --max-new-tokens 64 --run ar="--method ar" \
    --run medusa="--method medusa --head ${folder[medusa]}/final --tree ${folder[medusa]}/tree$n.json" \
    --run hydra="--method hydra --head ${folder[hydra]}/final --tree ${folder[hydra]}/tree$n.json" \
    --run hydra-context="--method hydra --head ${folder[hydra-context]}/final --tree ${folder[hydra-context]}/tree$n.json"
done
for name in ar medusa hydra hydra-context; do cat "$out"/*/"$name.jsonl" > "$out/${name}_all.jsonl"; done
python -m evaluation.report --baseline "$out/ar_all.jsonl" --out-dir "$out/report" \
  --answers "$out/medusa_all.jsonl" "$out/hydra_all.jsonl" "$out/hydra-context_all.jsonl"
cat "$out/report/report.md"
