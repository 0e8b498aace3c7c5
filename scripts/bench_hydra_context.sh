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
runs=()
for name in medusa hydra hydra-context; do
  method="${name%-context}"
  folder="outputs/$method/$heads${name#"$method"}"  # hydra-context: outputs/hydra/$heads-context
  tree="$folder/tree$CPU_TREE_NODES.json"
  [ -f "$tree" ] || { echo "no $tree: train $name with scripts/train/multilingual_head.sh" >&2; exit 1; }
  runs+=("$name=--method $method --head $folder/final --tree $tree")
done
[ $# -gt 0 ] && export LANGS="$*"
OUT_DIR="${OUT_DIR:-outputs/bench/five-multi-hydra}" bash "$here/eval/runs.sh" "${runs[@]}"
