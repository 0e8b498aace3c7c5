#!/usr/bin/env bash
# Usage: scripts/eval/ctc.sh LANG --head FOLDER [--beam 16] [--top-k 8] [--total-tokens 32] [options]
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" ctc "$@"
