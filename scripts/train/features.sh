#!/usr/bin/env bash
# Usage: scripts/train/features.sh LANG...   (experiments/features/recipe.json: distillation and the target's features)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment features --languages "$@"
