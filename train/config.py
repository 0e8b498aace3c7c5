"""Training configuration: one JSON file per recipe under train/configs/, overridable from the CLI."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from data_processing.errors import InputError


class ConfigError(InputError):
    """A training config file or override that cannot describe a run."""


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
    """An override's value: JSON when it parses (numbers, true, lists), else the bare string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare string


def override_pairs(overrides: Sequence[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """`key=value` strings of a command line (values read as JSON where they parse), or a recipe's {key: value}."""
    if isinstance(overrides, Mapping):  # text values (e.g. a recipe variable's) read as on the command line
        return [(key, parse_value(value) if isinstance(value, str) else value) for key, value in overrides.items()]
    pairs = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} is not key=value")
        pairs.append((key, parse_value(value)))
    return pairs


def load_config(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> TrainConfig:
    """JSON config + `key=value` overrides (`task_args.key=value` reaches the task's own arguments), checked
    against TrainConfig and the task's own arguments before anything loads."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (recipes are in train/configs/)") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of settings, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in override_pairs(overrides):
        if key.startswith("task_args."):
            data.setdefault("task_args", {})[key.split(".", 1)[1]] = value
        elif key in names:
            data[key] = value
        else:
            raise ConfigError(f"unknown training setting {key!r}; settings: {sorted(names)}")
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{path}: unknown training setting(s) {sorted(unknown)}; settings: {sorted(names)}")
    missing = {f.name for f in dataclasses.fields(TrainConfig)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING} - set(data)
    if missing:
        raise ConfigError(f"{path}: missing training setting(s) {sorted(missing)}")
    cfg = TrainConfig(**data)
    for name, kind in (("steps", int), ("batch_size", int), ("grad_accum", int), ("save_every", int), ("log_every", int)):
        value = getattr(cfg, name)
        if not isinstance(value, kind) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{path}: {name} must be a whole number >= 1, got {value!r}")
    if not isinstance(cfg.task_args, dict):
        raise ConfigError(f"{path}: task_args must be a JSON object, got {cfg.task_args!r}")
    return cfg
