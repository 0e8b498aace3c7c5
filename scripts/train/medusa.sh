#!/usr/bin/env bash
# Usage: scripts/train/medusa.sh LANG [multispec experiment options]   (experiments/head_medusa/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment head_medusa --languages "$@"
