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

json_list() {  # ARGS... -> a JSON list of them, for list-valued train.run overrides (task_args.data=[...])
  python -c "import json, sys; print(json.dumps(sys.argv[1:]))" "$@"
}

dump_conversations() {  # DIR -> conversations written to the hidden-state dump DIR (head training, tree calibration)
  python -c "import json, sys; print(sum(s['count'] for s in json.load(open(sys.argv[1]))['shards']))" "$1/index.json"
}

# Draft-tree sizes for these 2-core CPUs, from `scripts/tree_sizes.sh` on de->en: the target's forward
# grows from ~90 ms (1 token) to ~140 ms (21) and each EAGLE level costs a draft forward, so small
# trees win here (GPUs afford the methods' own defaults of ~60 nodes). eagle2 may go 8 levels deep but
# grows only paths the head gives >= 20 % probability, so it spends draft forwards where they pay.
export CPU_TREE_NODES="${CPU_TREE_NODES:-10}"
export CPU_EAGLE2_TREE="${CPU_EAGLE2_TREE:---total-tokens 10 --depth 8 --top-k 2 --min-path-prob 0.2}"
