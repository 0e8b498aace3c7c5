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
import inspect
from typing import Any

from data_processing.errors import InputError

TASKS = {
    "drafter_lm": "train.tasks.drafter_lm:DrafterLMTask",
    "eagle": "train.tasks.eagle:EagleTask",
    "eagle3": "train.tasks.eagle3:Eagle3Task",
    "medusa": "train.tasks.medusa:MedusaTask",
    "hydra": "train.tasks.hydra:HydraTask",
    "ctc": "train.tasks.ctc:CtcTask",
}


def task_class(name: str) -> type:
    if name not in TASKS:
        raise InputError(f"unknown training task {name!r}; known: {sorted(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def check_task_args(name: str, args: dict[str, Any]) -> None:
    """Task arguments the task does not take (or required ones missing) are refused before anything loads."""
    try:
        inspect.signature(task_class(name)).bind(**args)
    except TypeError as err:
        params = [p for p in inspect.signature(task_class(name)).parameters]
        raise InputError(f"task {name!r}: {err}; its arguments are {params}") from None


def build_task(name: str, args: dict[str, Any]):
    check_task_args(name, args)
    return task_class(name)(**args)
