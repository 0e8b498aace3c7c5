#!/usr/bin/env bash
# Usage: scripts/train/drafter.sh LANG [quick|full]
# A language-specialized sd drafter: self-distill the target on LANG's training pool (temperatures
# 0, 0.3, 0.7, 1.0), pretrain a small LM on LANG's text, fine-tune it on the distilled answers, then
# evaluate sd with it against ar on LANG's questions. Multi-GPU: LAUNCH="accelerate launch --multi_gpu".
# Env: DISTILL_PROMPTS (1000 prompts x 4 temperatures), LIMIT (eval questions, 20), PRETRAIN_ARGS / FINETUNE_ARGS (key=value overrides).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
lang="$1"; recipe="${2:-quick}"
launch=${LAUNCH:-python}
out="outputs/drafters/$lang"
[ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
python -m data_generation.generate --prompts "data/train/$lang.jsonl" --out "data/distill/$lang.jsonl" \
  --stop '\n' --limit "${DISTILL_PROMPTS:-1000}"
$launch -m train.run --config "train/configs/drafter_lm_${recipe}_pretrain.json" --resume \
  "output_dir=$out/pretrain" "task_args.data=data/train/$lang.jsonl" "task_args.vocab_answers=data/distill/$lang.jsonl" ${PRETRAIN_ARGS:-}
$launch -m train.run --config "train/configs/drafter_lm_${recipe}_finetune.json" --resume \
  "output_dir=$out/finetune" "task_args.data=data/distill/$lang.jsonl" "task_args.init_from=$out/pretrain/final" ${FINETUNE_ARGS:-}
OUT_DIR=outputs/answers bash "$(dirname "${BASH_SOURCE[0]}")/../eval/_run.sh" ar "$lang" --limit "${LIMIT:-20}" --max-new-tokens 64
OUT_DIR="outputs/answers/drafter-$lang" bash "$(dirname "${BASH_SOURCE[0]}")/../eval/_run.sh" sd "$lang" \
  --drafter "$out/finetune/final" --limit "${LIMIT:-20}" --max-new-tokens 64
python -m evaluation.speed --baseline "outputs/answers/$lang/ar.jsonl" --answers "outputs/answers/drafter-$lang/$lang/sd.jsonl"
