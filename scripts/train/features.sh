#!/usr/bin/env bash
# Usage: scripts/train/features.sh LANG
# The shared, cached inputs of every draft head (EAGLE, Medusa, Hydra): greedy self-distillation of the
# target on LANG's training pool, then the target's LM-head features over those conversations.
# Env: DISTILL_PROMPTS (9000; data volume is what head accuracy needs; speed: docs/training.md), TEMPERATURES ("0"),
#      LAYERS (-1: the LM head's input; "eagle3": EAGLE-3's three taps) into FEATURES_DIR (data/features/LANG).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
lang="$1"
[ -f "data/train/$lang.jsonl" ] || python -m data_processing.build_translation --langs "$lang" --out-dir data
python -m data_generation.generate --prompts "data/train/$lang.jsonl" --out "data/distill/$lang.jsonl" \
  --stop '\n' --limit "${DISTILL_PROMPTS:-9000}" --temperatures ${TEMPERATURES:-0}
python -m data_generation.hidden_states --data "data/distill/$lang.jsonl" --out "${FEATURES_DIR:-data/features/$lang}" \
  --layers ${LAYERS:--1}
