#!/usr/bin/env bash
# Usage: scripts/train/eagle.sh LANG [multispec experiment options]   (experiments/head_eagle/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment head_eagle --languages "$@"
