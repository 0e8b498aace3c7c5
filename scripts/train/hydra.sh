#!/usr/bin/env bash
# Usage: scripts/train/hydra.sh LANG [multispec experiment options]   (experiments/head_hydra/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment head_hydra --languages "$@"
