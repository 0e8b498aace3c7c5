"""Training under `accelerate launch` with two CPU processes (DDP over gloo), as a user would start it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def launch_two_processes(*module_and_args: str) -> None:
    """`accelerate launch -m MODULE ARGS` with two processes, asserting a clean exit."""
    # --multi_gpu is accelerate's multi-process launcher (torchrun); `--cpu --num_processes 2` would start ONE process
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "-m", *module_and_args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def logged_steps(output_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (output_dir / "log.jsonl").read_text().splitlines()]


def train_two_processes(config: Path, *overrides: str) -> list[int]:
    """Run train.run on `config` in two processes; returns the logged steps."""
    launch_two_processes("train.run", "--config", str(config), *overrides)
    return logged_steps(Path(json.loads(config.read_text())["output_dir"]))
