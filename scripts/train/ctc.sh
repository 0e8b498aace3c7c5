#!/usr/bin/env bash
# Usage: scripts/train/ctc.sh LANG [quick|full]   (see head.sh)
exec bash "$(dirname "${BASH_SOURCE[0]}")/head.sh" ctc "$@"
