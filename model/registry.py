"""Methods by name. Each entry is a module exposing a frozen ``Config`` dataclass and
``build(target, config, *, tokenizer, accept, generator) -> Drafter``; modules load on first use."""
from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType
from typing import Any

from data_processing.errors import InputError


class MethodError(InputError):
    """An unknown method, an option it does not have, or a value its Config refuses."""

METHODS: dict[str, str] = {
    "ar": "model.ar.drafter",
    "sd": "model.sd.drafter",
    "pld": "model.pld.drafter",
    "eagle": "model.eagle.eagle1",
    "eagle2": "model.eagle.eagle2",
    "eagle3": "model.eagle.eagle3",
    "lookahead": "model.lookahead.drafter",
    "medusa": "model.medusa.drafter",
    "hydra": "model.hydra.drafter",
    "ctc": "model.ctc.drafter",
}


# methods whose drafts are trees: verified with a 4-D attention mask, which flash-attention kernels cannot read
TREE_METHODS = frozenset({"eagle", "eagle2", "eagle3", "lookahead", "medusa", "hydra", "ctc"})


def method_module(name: str) -> ModuleType:
    if name not in METHODS:
        raise MethodError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    return importlib.import_module(METHODS[name])


def method_config(name: str, options: dict[str, Any] | None = None) -> Any:
    """The method's Config with `options` applied; unknown option names are an error, not ignored."""
    config_cls = method_module(name).Config
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(options or {}) - fields
    if unknown:
        raise MethodError(f"method {name!r} has no option(s) {sorted(unknown)}; its options are {sorted(fields)}")
    try:
        return config_cls(**(options or {}))
    except ValueError as err:  # the Config's own checks (e.g. gamma out of range)
        raise MethodError(f"method {name!r}: {err}") from None


def build_drafter(name: str, target, options: dict[str, Any] | None = None, **context: Any):
    """Drafter for method `name`; context carries tokenizer, accept config and generator."""
    from model.common.target import MASKLESS_ATTENTION

    backend = getattr(target, "attn_implementation", None)
    if name in TREE_METHODS and backend in MASKLESS_ATTENTION:
        raise ValueError(f"method {name!r} verifies trees with 4-D attention masks, which {backend} cannot read: "
                         f"load the target with --attn-implementation sdpa (or eager), or use a chain method (ar, sd, pld)")
    return method_module(name).build(target, method_config(name, options), **context)
