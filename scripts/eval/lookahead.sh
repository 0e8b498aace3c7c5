#!/usr/bin/env bash
# Usage: scripts/eval/lookahead.sh LANG [--window 7] [--ngram 5] [--guesses 7] [options]
exec "$(dirname "${BASH_SOURCE[0]}")/_run.sh" lookahead "$@"
