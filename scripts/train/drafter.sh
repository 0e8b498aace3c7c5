#!/usr/bin/env bash
# Usage: scripts/train/drafter.sh LANG [multispec experiment options]   (experiments/drafter_sd/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment drafter_sd --languages "$@"
