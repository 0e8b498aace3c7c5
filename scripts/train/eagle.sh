#!/usr/bin/env bash
# Usage: scripts/train/eagle.sh LANG [quick|full]
# A language-specialized EAGLE head: self-distill the target greedily on LANG's training pool, dump
# the target's LM-head features over those conversations, train the head, then evaluate eagle and
# eagle2 against ar on LANG's questions. Multi-GPU: LAUNCH="accelerate launch --multi_gpu".
# Env: DISTILL_PROMPTS (9000: ~35 min on 2 CPU cores; data volume is what the head's accuracy needs),
# TEMPERATURES ("0"), LIMIT (eval questions, 20), TRAIN_ARGS (key=value overrides).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
lang="$1"; recipe="${2:-quick}"
launch=${LAUNCH:-python}
out="outputs/eagle/$lang"
[ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
python -m data_generation.generate --prompts "data/train/$lang.jsonl" --out "data/distill/$lang.jsonl" \
  --stop '\n' --limit "${DISTILL_PROMPTS:-9000}" --temperatures ${TEMPERATURES:-0}
python -m data_generation.hidden_states --data "data/distill/$lang.jsonl" --out "data/features/$lang" --layers -1
$launch -m train.run --config "train/configs/eagle_${recipe}.json" --resume \
  "output_dir=$out" "task_args.data=data/features/$lang" ${TRAIN_ARGS:-}
OUT_DIR=outputs/answers bash "$(dirname "${BASH_SOURCE[0]}")/../eval/_run.sh" ar "$lang" --limit "${LIMIT:-20}" --max-new-tokens 64
for method in eagle eagle2; do
  OUT_DIR="outputs/answers/eagle-$lang" bash "$(dirname "${BASH_SOURCE[0]}")/../eval/_run.sh" "$method" "$lang" \
    --head "$out/final" --limit "${LIMIT:-20}" --max-new-tokens 64
done
python -m evaluation.speed --baseline "outputs/answers/$lang/ar.jsonl" \
  --answers "outputs/answers/eagle-$lang/$lang/eagle.jsonl" "outputs/answers/eagle-$lang/$lang/eagle2.jsonl"
