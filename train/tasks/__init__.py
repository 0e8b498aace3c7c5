"""Trainable methods: each supplies a net, a dataset, a loss and how to save the result.

A task is built from its `task_args` and implements:
    model() -> nn.Module            the trainable net
    dataset() -> Dataset            rows for the collate function
    collate(rows) -> dict           a batch of tensors
    loss(model, batch) -> Tensor    scalar loss (logged as is)
    save(model, folder) -> None     the artifact the method's drafter loads
"""
from __future__ import annotations

import importlib
from typing import Any

TASKS = {
    "drafter_lm": "train.tasks.drafter_lm:DrafterLMTask",
    "eagle": "train.tasks.eagle:EagleTask",
    "eagle3": "train.tasks.eagle3:Eagle3Task",
    "medusa": "train.tasks.medusa:MedusaTask",
    "hydra": "train.tasks.hydra:HydraTask",
    "ctc": "train.tasks.ctc:CtcTask",
}


def build_task(name: str, args: dict[str, Any]):
    if name not in TASKS:
        raise ValueError(f"unknown training task {name!r}; known: {sorted(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**args)
