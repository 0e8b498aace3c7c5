#!/usr/bin/env bash
# Usage: scripts/specialized_vs_generic.sh [LANG ...]     (default: de fr ja ru zh)
# The reference paper's claim on the embedded target. Per language, a specialized sd drafter: pretrained
# on that language's text, fine-tuned on the target's own answers in it. One generic drafter of the same
# size trained on the union of all languages with the same total budget (number of languages x the steps
# of one specialized drafter). Then sd with every drafter on every language's questions: MAT and speedup
# tables, own/generic ratios and heat maps (evaluation/drafter_matrix.py) in OUT_DIR.
# Env: DISTILL_PROMPTS (2000 per language), TEMPERATURES ("0"; the paper's recipe is "0 0.3 0.7 1.0"),
#      RECIPE (quick | full), PRETRAIN_STEPS / FINETUNE_STEPS (default: the recipe's), DRAFTER_ARGS (pretrain
#      key=value overrides, e.g. "task_args.hidden_size=512"), GAMMA (4), LIMIT (20),
#      OUT_DIR (outputs/specialized), LAUNCH (python; multi-GPU: "accelerate launch --multi_gpu").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ $# -gt 0 ] || set -- de fr ja ru zh
recipe="${RECIPE:-quick}"; launch=${LAUNCH:-python}; out="${OUT_DIR:-outputs/specialized}"
read -r -a temperatures <<< "${TEMPERATURES:-0}"
rows=$(( ${DISTILL_PROMPTS:-2000} * ${#temperatures[@]} ))  # distilled rows per language
pretrain_config="train/configs/drafter_lm_${recipe}_pretrain.json"
finetune_config="train/configs/drafter_lm_${recipe}_finetune.json"
steps_of() { python -c "import json, sys; print(json.load(open(sys.argv[1]))['steps'])" "$1"; }
pretrain_steps="${PRETRAIN_STEPS:-$(steps_of "$pretrain_config")}"
finetune_steps="${FINETUNE_STEPS:-$(steps_of "$finetune_config")}"

for lang in "$@"; do
  [ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
  python -m data_generation.generate --prompts "data/train/$lang.jsonl" --out "data/distill/$lang.jsonl" \
    --stop '\n' --temperatures "${temperatures[@]}" --limit "${DISTILL_PROMPTS:-2000}"
done

train_drafter() {  # NAME STEP_MULTIPLIER TEXT_FILES_JSON DISTILLED_FILES_JSON
  local dir="$out/drafters/$1"
  # shellcheck disable=SC2086  # DRAFTER_ARGS is a list of key=value overrides
  $launch -m train.run --config "$pretrain_config" --resume "output_dir=$dir/pretrain" "task_args.data=$3" \
    "task_args.vocab_answers=$4" "task_args.vocab_limit=$rows" "steps=$((pretrain_steps * $2))" ${DRAFTER_ARGS:-}
  $launch -m train.run --config "$finetune_config" --resume "output_dir=$dir/finetune" "task_args.data=$4" \
    "task_args.limit=$rows" "task_args.init_from=$dir/pretrain/final" "steps=$((finetune_steps * $2))"
}
texts=(); distilled=(); drafters=()
for lang in "$@"; do
  texts+=("data/train/$lang.jsonl"); distilled+=("data/distill/$lang.jsonl")
  train_drafter "$lang" 1 "$(json_list "data/train/$lang.jsonl")" "$(json_list "data/distill/$lang.jsonl")"
  drafters+=("$lang=$out/drafters/$lang/finetune/final")
done
train_drafter generic $# "$(json_list "${texts[@]}")" "$(json_list "${distilled[@]}")"
drafters+=("generic=$out/drafters/generic/finetune/final")

python -m evaluation.drafter_matrix --drafters "${drafters[@]}" --langs "$@" --generic generic --out-dir "$out" \
  --limit "${LIMIT:-20}" --gamma "${GAMMA:-4}" --max-new-tokens 64
