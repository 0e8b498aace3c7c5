#!/usr/bin/env bash
# Set up the environment if needed, then run the whole test suite on the CPU, on 2 processes (pytest-xdist; extra
# arguments go to pytest, e.g. -m 'not slow' to skip the real-target tests, -n 0 for one process).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
python -m pytest -q -n 2 tests "$@"
