"""Training configuration: one JSON file per recipe under train/configs/, overridable from the CLI."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    task: str  # a name in train.tasks.TASKS
    output_dir: str
    steps: int = 1000  # optimizer steps
    batch_size: int = 16  # per process, per micro-batch
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50
    max_grad_norm: float = 1.0
    save_every: int = 200  # checkpoint (resumable state) every N optimizer steps
    log_every: int = 10
    seed: int = 0
    mixed_precision: str = "no"  # no | bf16 | fp16, as accelerate understands them
    num_workers: int = 0  # data-loader worker processes (the GPU recipes use 4; 0 reads batches in the main process)
    task_args: dict[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare string


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """JSON config + `key=value` overrides (`task_args.key=value` reaches the task's own arguments)."""
    data = json.loads(Path(path).read_text())
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        if key.startswith("task_args."):
            data.setdefault("task_args", {})[key.split(".", 1)[1]] = parse_value(value)
        elif key in names:
            data[key] = parse_value(value)
        else:
            raise ValueError(f"unknown training setting {key!r}; settings: {sorted(names)}")
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{path}: unknown training setting(s) {sorted(unknown)}; settings: {sorted(names)}")
    return TrainConfig(**data)
