#!/usr/bin/env bash
# Usage: scripts/train/multilingual_head.sh eagle|medusa|hydra|ctc DUMP... [-- key=value ...]
#   e.g. STEPS=3000 scripts/train/multilingual_head.sh eagle de de_extra fr ja ru zh
# One draft head over several languages' self-distilled data, in outputs/TASK/$NAME (multi): each
# DUMP is a hidden-state dump in data/features (made by scripts/train/features.sh DUMP when missing), each
# dump's last HOLDOUT conversations are held apart, and static-tree methods get a tree of
# $CPU_TREE_NODES nodes calibrated on the first dump's held-apart part. Translation answers are English
# whatever the source language, so every language's data teaches the head the same output side.
# Env: NAME (multi: the heads folder), RECIPE (quick | full), STEPS (the recipe's), HOLDOUT (500), LAUNCH (python; multi-GPU:
#      "accelerate launch --multi_gpu"), plus features.sh's. Arguments after -- go to train.run.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
task="$1"; shift
dumps=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do dumps+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#dumps[@]} -gt 0 ] || { echo "usage: $0 TASK DUMP... [-- key=value ...]" >&2; exit 2; }
name="${NAME:-multi}"
out="outputs/$task/$name"
holdout="${HOLDOUT:-500}"
folders=()
for dump in "${dumps[@]}"; do
  [ -f "data/features/$dump/index.json" ] || bash "$here/features.sh" "$dump"
  folders+=("data/features/$dump")
done
${LAUNCH:-python} -m train.run --config "train/configs/${task}_${RECIPE:-quick}.json" --resume "output_dir=$out" \
  "task_args.data=$(json_list "${folders[@]}")" "task_args.limit=-$holdout" ${STEPS:+"steps=$STEPS"} "$@"
if [ "$task" != ctc ]; then
  CALIBRATE_ON="${folders[0]}" HOLDOUT="$holdout" bash "$here/../calibrate_trees.sh" "$name" "$CPU_TREE_NODES" "$task"
fi
