#!/usr/bin/env bash
# Usage: scripts/eval/pld.sh LANG [options]   e.g. scripts/eval/pld.sh de --limit 20
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" pld "$@"
