#!/usr/bin/env bash
# Usage: scripts/train/eagle3.sh LANG [multispec experiment options]   (experiments/head_eagle3/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment head_eagle3 --languages "$@"
