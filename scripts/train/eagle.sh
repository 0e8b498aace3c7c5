#!/usr/bin/env bash
# Usage: scripts/train/eagle.sh LANG [quick|full]   (see head.sh)
exec bash "$(dirname "${BASH_SOURCE[0]}")/head.sh" eagle "$@"
