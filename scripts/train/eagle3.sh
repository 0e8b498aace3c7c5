#!/usr/bin/env bash
# Usage: scripts/train/eagle3.sh LANG [quick|full]   (see head.sh; features of the target's layers 2, L/2, L-3)
exec bash "$(dirname "${BASH_SOURCE[0]}")/head.sh" eagle3 "$@"
