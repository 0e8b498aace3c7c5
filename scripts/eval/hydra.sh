#!/usr/bin/env bash
# Usage: scripts/eval/hydra.sh LANG --head FOLDER [--tree tree.json] [--total-tokens 60] [--top-k 10] [options]
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" hydra "$@"
