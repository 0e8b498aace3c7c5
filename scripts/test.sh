#!/usr/bin/env bash
# Set up the environment if needed, then run the test suite (CPU, ~10 minutes on 2 cores).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m pytest -q tests "$@"
