#!/usr/bin/env bash
# Usage: scripts/train/head.sh eagle|eagle3|medusa|hydra|ctc LANG [quick|full]
# A language-specialized draft head: features (scripts/train/features.sh), training on all but the last
# HOLDOUT conversations, a static tree calibrated on those held-apart ones (for medusa, hydra and eagle;
# eagle2 and ctc grow their own), then the head's methods against ar on LANG's questions. Multi-GPU: LAUNCH="accelerate launch --multi_gpu".
# Env: HOLDOUT (500), LIMIT (eval questions, 20), TRAIN_ARGS (key=value overrides), plus features.sh's but LAYERS and
#      FEATURES_DIR, which the task sets (eagle3: data/features-eagle3/LANG with --layers eagle3).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../env.sh"
task="$1"; lang="$2"; recipe="${3:-quick}"
launch=${LAUNCH:-python}
out="outputs/$task/$lang"
features="data/features/$lang"; layers=-1
[ "$task" = eagle3 ] && features="data/features-eagle3/$lang" && layers=eagle3  # the target's low, mid, high layers
FEATURES_DIR="$features" LAYERS="$layers" bash "$here/features.sh" "$lang"
total=$(dump_conversations "$features")
train_n=$((total - ${HOLDOUT:-500}))
$launch -m train.run --config "train/configs/${task}_${recipe}.json" --resume \
  "output_dir=$out" "task_args.data=$features" "task_args.limit=$train_n" ${TRAIN_ARGS:-}
if [ "$task" != ctc ]; then
  python -m evaluation.calibrate_tree --task "$task" --head "$out/final" --features "$features" \
    --skip "$train_n" --out "$out/tree.json"
fi
methods=("$task"); [ "$task" = eagle ] && methods=(eagle eagle2); [ "$task" = eagle3 ] && methods=(eagle eagle3)
OUT_DIR=outputs/answers bash "$here/../eval/_run.sh" ar "$lang" --limit "${LIMIT:-20}" --max-new-tokens 64
answers=()
for method in "${methods[@]}"; do
  tree=(--tree "$out/tree.json"); case "$method" in eagle2|eagle3|ctc) tree=() ;; esac  # these grow their own trees
  OUT_DIR="outputs/answers/$task-$lang" bash "$here/../eval/_run.sh" "$method" "$lang" --head "$out/final" \
    ${tree[@]+"${tree[@]}"} --limit "${LIMIT:-20}" --max-new-tokens 64
  answers+=("outputs/answers/$task-$lang/$lang/$method.jsonl")
done
python -m evaluation.speed --baseline "outputs/answers/$lang/ar.jsonl" --answers "${answers[@]}"
