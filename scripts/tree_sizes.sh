#!/usr/bin/env bash
# Usage: scripts/tree_sizes.sh [LANG]   (default de; heads from scripts/train/{eagle,medusa,hydra,ctc}.sh LANG)
# Which draft-tree size pays on this machine: every head method at every size in SIZES (static trees
# calibrated on held-apart data; ctc's trie size), eagle2 at every TOTAL:DEPTH:TOP_K[:MIN_PATH_PROB] in
# EAGLE2_TREES, and ar, answered question by question side by side on one loaded target
# (evaluation/side_by_side.py). The sizes chosen from its output are CPU_TREE_NODES and CPU_EAGLE2_TREE in env.sh.
# Env: SIZES (4 6 10 20; empty: eagle2 only), EAGLE2_TREES (5:2:2 6:3:2 8:4:3 12:4:4 20:6:6), HEAD_LANG (the
#      heads' folder under outputs/METHOD, default LANG, e.g. multi), LIMIT (20), OUT_DIR (outputs/tree_sizes/LANG).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
lang="${1:-de}"
heads="${HEAD_LANG:-$lang}"
runs=(--run "ar=--method ar")
for spec in ${EAGLE2_TREES:-5:2:2 6:3:2 8:4:3 12:4:4 20:6:6}; do
  IFS=: read -r n d k p <<< "$spec"
  runs+=(--run "eagle2-$n-$d-$k${p:+-p$p}=--method eagle2 --head outputs/eagle/$heads/final --total-tokens $n --depth $d --top-k $k${p:+ --min-path-prob $p}")
done
for n in ${SIZES-4 6 10 20}; do
  bash "$here/calibrate_trees.sh" "$heads" "$n"
  for m in eagle medusa hydra; do
    runs+=(--run "$m-$n=--method $m --head outputs/$m/$heads/final --tree outputs/$m/$heads/tree$n.json")
  done
  runs+=(--run "ctc-$n=--method ctc --head outputs/ctc/$heads/final --total-tokens $n")
done
python -m evaluation.side_by_side --questions "data/questions/translation_$lang.jsonl" --limit "${LIMIT:-20}" \
  --max-new-tokens 64 --out-dir "${OUT_DIR:-outputs/tree_sizes/$lang}" "${runs[@]}"
