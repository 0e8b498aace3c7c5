#!/usr/bin/env bash
# Create or reuse .venv and install requirements; sourced by main.sh and test.sh.
# GPU users: install your CUDA build of torch into .venv first; it is kept as is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MULTISPEC_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"

constraint_args=()
if python -c "import torch" 2>/dev/null; then
  : # keep the torch already installed (e.g. a CUDA build the user chose)
elif ! command -v nvidia-smi >/dev/null 2>&1; then
  constraint_args=(-c "$ROOT/constraints/cpu.txt")
fi

stamp="$VENV/.multispec-requirements"
want="$(cat "$ROOT/requirements.txt" "$ROOT/constraints/cpu.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[multispec] installing requirements into $VENV" >&2
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet "${constraint_args[@]}" -r "$ROOT/requirements.txt"
  python -m pip install --quiet --no-deps -e "$ROOT"  # the `multispec` command, running this checkout's code
  echo "$want" > "$stamp"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"

