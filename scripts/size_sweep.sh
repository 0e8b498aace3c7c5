#!/usr/bin/env bash
# Usage: scripts/size_sweep.sh LANG     (default de)
# Drafter-size sweep for sd: for each size, pretrain a drafter LM on LANG's text and fine-tune it on the
# target's greedy answers (the quick recipes with fewer steps), then measure α, MAT, cost ratio c and
# speedup at several γ next to Leviathan's prediction (evaluation/size_sweep.py): a table and a plot in
# OUT_DIR/LANG. Multi-GPU training: LAUNCH="accelerate launch --multi_gpu".
# env: SIZES ("hidden:layers:heads:intermediate ...", default 4 sizes from ~0.6M to ~17M parameters),
#      PRETRAIN_STEPS (600), FINETUNE_STEPS (300), GAMMAS ("1 3 5"), LIMIT (20), DISTILL_PROMPTS (9000),
#      OUT_DIR (outputs/size_sweep; results go to OUT_DIR/LANG)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
lang="${1:-de}"
launch=${LAUNCH:-python}
out="${OUT_DIR:-outputs/size_sweep}/$lang"
[ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
python -m data_generation.generate --prompts "data/train/$lang.jsonl" --out "data/distill/$lang.jsonl" \
  --stop '\n' --temperatures 0 --limit "${DISTILL_PROMPTS:-9000}"
drafters=(); names=()
for size in ${SIZES:-64:1:2:192 128:2:4:384 256:2:4:768 512:4:8:1536}; do
  IFS=: read -r hidden layers heads inter <<< "$size"
  name="h${hidden}-l${layers}"
  dir="$out/drafters/$name"
  $launch -m train.run --config train/configs/drafter_lm_quick_pretrain.json --resume "output_dir=$dir/pretrain" \
    "task_args.data=data/train/$lang.jsonl" "task_args.vocab_answers=data/distill/$lang.jsonl" \
    "task_args.vocab_limit=${DISTILL_PROMPTS:-9000}" "task_args.hidden_size=$hidden" "task_args.layers=$layers" \
    "task_args.heads=$heads" "task_args.intermediate_size=$inter" "steps=${PRETRAIN_STEPS:-600}"
  $launch -m train.run --config train/configs/drafter_lm_quick_finetune.json --resume "output_dir=$dir/finetune" \
    "task_args.data=data/distill/$lang.jsonl" "task_args.init_from=$dir/pretrain/final" "steps=${FINETUNE_STEPS:-300}"
  drafters+=("$dir/finetune/final"); names+=("$name")
done
# shellcheck disable=SC2086  # GAMMAS is a list of numbers
python -m evaluation.size_sweep --drafters "${drafters[@]}" --names "${names[@]}" \
  --questions "data/questions/translation_${lang}.jsonl" --out-dir "$out" --gammas ${GAMMAS:-1 3 5} --limit "${LIMIT:-20}"
