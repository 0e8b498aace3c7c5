#!/usr/bin/env bash
# Usage: scripts/bench_heads.sh [LANG ...]   (default de; heads from scripts/train/{eagle,eagle3,medusa,hydra,ctc}.sh)
# The head methods side by side with ar, pld and lookahead (CPU-sized trees of TREE_NODES nodes, calibrated
# on held-apart data). Every question is answered by every method before the next one (scripts/eval/all.sh
# runs evaluation/side_by_side.py per language), so machine drift stays out of the ratios.
# Env: METHODS (ar pld lookahead eagle eagle2 medusa hydra ctc), LIMIT (20), TREE_NODES ($CPU_TREE_NODES from env.sh),
#      EAGLE2_TREE ($CPU_EAGLE2_TREE, for eagle2 and eagle3),
#      HEAD_LANG (use that language's heads on every LANG, e.g. HEAD_LANG=de; default: each LANG's own),
#      OUT_DIR (outputs/bench/<langs joined by ->).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
langs=("${@:-de}")
nodes="${TREE_NODES:-$CPU_TREE_NODES}"
methods="${METHODS:-ar pld lookahead eagle eagle2 medusa hydra ctc}"
out="${OUT_DIR:-outputs/bench/$(IFS=-; echo "${langs[*]}")}"
head_langs=("${langs[@]}"); [ -n "${HEAD_LANG:-}" ] && head_langs=("$HEAD_LANG")
tasks=$(for m in $methods; do case "$m" in eagle|eagle2) echo eagle ;; eagle3|medusa|hydra|ctc) echo "$m" ;; esac; done | sort -u)
for hl in "${head_langs[@]}"; do
  [ -z "$tasks" ] || bash "$here/calibrate_trees.sh" "$hl" "$nodes" $tasks
done
hl="${HEAD_LANG:-{lang\}}"
export EAGLE_HEAD="outputs/eagle/$hl/final" EAGLE_TREE="outputs/eagle/$hl/tree$nodes.json" \
  EAGLE3_HEAD="outputs/eagle3/$hl/final" EXTRA_eagle3="${EAGLE2_TREE:-$CPU_EAGLE2_TREE}" \
  MEDUSA_HEAD="outputs/medusa/$hl/final" MEDUSA_TREE="outputs/medusa/$hl/tree$nodes.json" \
  HYDRA_HEAD="outputs/hydra/$hl/final" HYDRA_TREE="outputs/hydra/$hl/tree$nodes.json" \
  CTC_HEAD="outputs/ctc/$hl/final" EXTRA_eagle2="${EAGLE2_TREE:-$CPU_EAGLE2_TREE}" \
  EXTRA_ctc="--total-tokens $nodes ${EXTRA_ctc:-}"
OUT_DIR="$out" LANGS="${langs[*]}" METHODS="$methods" bash "$here/eval/all.sh" --limit "${LIMIT:-20}" --max-new-tokens 64
