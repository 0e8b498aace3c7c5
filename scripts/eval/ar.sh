#!/usr/bin/env bash
# Usage: scripts/eval/ar.sh LANG [options]   e.g. scripts/eval/ar.sh de --limit 20
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" ar "$@"
