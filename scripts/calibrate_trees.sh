#!/usr/bin/env bash
# Usage: scripts/calibrate_trees.sh LANG NODES [TASK ...]   (TASK: eagle eagle3 medusa hydra ctc; default eagle medusa hydra ctc)
# Checks that LANG's heads exist (scripts/train/TASK.sh LANG) and writes outputs/TASK/LANG/treeNODES.json for
# the static-tree methods, picked from the heads' accuracy on the last HOLDOUT (500) conversations of
# data/features/LANG, or of the dump CALIBRATE_ON (held apart from training by scripts/train/head.sh and
# multilingual_head.sh). ctc grows its own trie and eagle3 its dynamic tree: checked only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
lang="$1"; nodes="$2"; shift 2
tasks=("$@"); [ ${#tasks[@]} -gt 0 ] || tasks=(eagle medusa hydra ctc)
for t in "${tasks[@]}"; do
  head="outputs/$t/$lang/final"
  [ -f "$head/${t}_config.json" ] || { echo "no $t head for $lang: run scripts/train/$t.sh $lang" >&2; exit 1; }
  case "$t" in ctc|eagle3) continue ;; esac
  tree="outputs/$t/$lang/tree$nodes.json"
  [ "$tree" -nt "$head/$t.safetensors" ] && continue  # calibrated for this very head already
  features="${CALIBRATE_ON:-data/features/$lang}"
  [ -f "$features/index.json" ] || { echo "no held-apart features $features for $head's tree: set CALIBRATE_ON=DUMP" >&2; exit 1; }
  total=$(dump_conversations "$features")
  python -m evaluation.calibrate_tree --task "$t" --head "$head" --features "$features" \
    --skip $((total - ${HOLDOUT:-500})) --total "$nodes" --out "$tree"
done
