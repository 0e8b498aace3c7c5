#!/usr/bin/env bash
# Usage: scripts/specialized_heads.sh [LANG ...]   (default: de fr ja ru zh)
# Per-language draft heads against one multilingual head (issue 6's version of the specialized-vs-generic
# experiment): for each LANG, the target's features over CONVERSATIONS self-distilled answers
# (scripts/train/features.sh) and a head trained on them for STEPS steps; one multilingual head trained on
# all languages' conversations for (number of languages x STEPS) steps, so it sees each language as often;
# then every head drafts on every language's questions (evaluation/drafter_matrix.py): MAT and speedup
# tables, own/multilingual ratios and heat maps in OUT_DIR.
# METHOD is a head method that grows its own tree: eagle2 (default) or ctc. Multi-GPU: LAUNCH="accelerate launch --multi_gpu".
# Env: METHOD (eagle2), CONVERSATIONS (2000 per language), STEPS (500), RECIPE (quick), EAGLE2_TREE ($CPU_EAGLE2_TREE from env.sh), TREE_NODES (ctc: $CPU_TREE_NODES),
#      LIMIT (20 questions per language), OUT_DIR (outputs/specialized_heads/METHOD).
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/env.sh"
[ $# -gt 0 ] || set -- de fr ja ru zh
method="${METHOD:-eagle2}"
case "$method" in
  eagle2) task=eagle; tree_args="${EAGLE2_TREE:-$CPU_EAGLE2_TREE}" ;;
  ctc) task=ctc; tree_args="--total-tokens ${TREE_NODES:-$CPU_TREE_NODES}" ;;
  *) echo "METHOD must be eagle2 or ctc (medusa, hydra and eagle need a static tree calibrated per head)" >&2; exit 2 ;;
esac
conversations="${CONVERSATIONS:-2000}"; steps="${STEPS:-500}"; launch=${LAUNCH:-python}
out="${OUT_DIR:-outputs/specialized_heads/$method}"
config="train/configs/${task}_${RECIPE:-quick}.json"

train_head() {  # NAME DATA STEPS: one head on the first $conversations conversations of each dump in DATA
  $launch -m train.run --config "$config" --resume "output_dir=$out/heads/$1" "task_args.data=$2" \
    "task_args.limit=$conversations" "steps=$3"
}

dumps=(); drafters=()
for lang in "$@"; do
  DISTILL_PROMPTS="$conversations" bash "$here/train/features.sh" "$lang"
  train_head "$lang" "data/features/$lang" "$steps"
  dumps+=("data/features/$lang"); drafters+=("$lang=$out/heads/$lang/final")
done
train_head multi "$(json_list "${dumps[@]}")" $((steps * $#))
python -m evaluation.drafter_matrix --method "$method" --method-args="$tree_args" \
  --drafters "${drafters[@]}" "multi=$out/heads/multi/final" --generic multi --langs "$@" \
  --out-dir "$out" --limit "${LIMIT:-20}" --max-new-tokens 64
