#!/usr/bin/env bash
# Usage: scripts/train/ctc.sh LANG [multispec experiment options]   (experiments/head_ctc/recipe.json)
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh" && exec multispec experiment head_ctc --languages "$@"
