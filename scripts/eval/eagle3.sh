#!/usr/bin/env bash
# Usage: scripts/eval/eagle3.sh LANG --head FOLDER [--total-tokens 60] [--depth N] [--top-k 10] [options]
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" eagle3 "$@"
