#!/usr/bin/env bash
# Usage: scripts/eval/sd.sh LANG --drafter PATH [--gamma 5] [--adaptive] [options]
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" sd "$@"
