#!/usr/bin/env bash
# Usage: scripts/bench_hydra_context.sh [LANG ...]   (default de fr ja ru zh)
# Medusa, Hydra and Hydra++ (a Hydra head trained with task_args.context_layers=1) side by side with ar,
# question by question per language, then one report. Heads: outputs/medusa/$HEADS, outputs/hydra/$HEADS and
# outputs/hydra/$HEADS-context (scripts/train/multilingual_head.sh, NAME=multi-context for the last), each
# with its tree of $CPU_TREE_NODES nodes. Env: HEADS (multi), LIMIT (20), OUT_DIR (outputs/bench/five-multi-hydra).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
out="${OUT_DIR:-outputs/bench/five-multi-hydra}"
heads="${HEADS:-multi}"
names=(medusa hydra hydra-context)
runs=(--run ar="--method ar"); answers=()
for name in "${names[@]}"; do
  method="${name%-context}"
  folder="outputs/$method/$heads${name#"$method"}"  # hydra-context: outputs/hydra/$heads-context
  tree="$folder/tree$CPU_TREE_NODES.json"
  [ -f "$tree" ] || { echo "no $tree: train $name with scripts/train/multilingual_head.sh" >&2; exit 1; }
  runs+=(--run "$name=--method $method --head $folder/final --tree $tree")
  answers+=("$out/${name}_all.jsonl")
done
langs=("$@"); [ ${#langs[@]} -gt 0 ] || langs=(de fr ja ru zh)
for lang in "${langs[@]}"; do
  python -m evaluation.side_by_side --questions "$(bash "$here/eval/questions.sh" "$lang")" --out-dir "$out/$lang" \
    --limit "${LIMIT:-20}" --max-new-tokens 64 "${runs[@]}"
done
for name in ar "${names[@]}"; do cat "$out"/*/"$name.jsonl" > "$out/${name}_all.jsonl"; done
python -m evaluation.report --baseline "$out/ar_all.jsonl" --out-dir "$out/report" --answers "${answers[@]}"
cat "$out/report/report.md"
