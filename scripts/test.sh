#!/usr/bin/env bash
# Set up the environment if needed, then run the whole test suite on the CPU (extra arguments go to pytest,
# e.g. -m 'not slow' to skip the real-target tests).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m pytest -q tests "$@"
