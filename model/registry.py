"""Methods by name. Each entry is a module exposing a frozen ``Config`` dataclass and
``build(target, config, *, tokenizer, accept, generator) -> Drafter``; modules load on first use."""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from data_processing.errors import InputError


class MethodError(InputError):
    """An unknown method, an option it does not have, or a value its Config refuses."""

@dataclass(frozen=True)
class Method:
    """What a method is and what it needs; scripts, studies and `multispec methods` read these instead of
    keeping their own lists."""

    module: str  # exposes Config and build(); imported on first use
    summary: str
    weights: str | None = None  # "drafter" (a draft LM: --drafter) or "head" (trained heads: --head); None: none
    tree: str | None = None  # "static" (a fixed shape: --tree) or "dynamic" (grown each step); None: a chain
    training_task: str | None = None  # the train.tasks entry that makes its weights
    shipped: str | None = None  # its weights shipped for the embedded target: `embedded:<lang>/<shipped>` (weights/)
    # options for a CPU, where studies run it without a GPU (experiments/tree_sizes on a 2-core CPU: the target's
    # forward grows from ~90 ms at 1 token to ~140 ms at 21 and every draft level costs a forward, so small trees
    # win; GPUs afford the methods' own defaults of ~60 nodes)
    cpu_options: dict[str, Any] = dataclasses.field(default_factory=dict)


CPU_DYNAMIC_TREE = {"total_tokens": 10, "depth": 8, "top_k": 2, "min_path_prob": 0.2}  # grows only likely paths


METHODS: dict[str, Method] = {
    "ar": Method("model.ar.drafter", "plain decoding, one token per target forward: every speedup's baseline"),
    "sd": Method("model.sd.drafter", "speculative decoding with a small draft LM proposing gamma tokens",
                 weights="drafter", training_task="drafter_lm", shipped="sd",
                 # the shipped drafter's first token is accepted ~1/3 of the time: on a CPU 5 draft tokens a step cost
                 # more than they bring (de: gamma 5 1.29x, 3 1.38x, adaptive 1.38x, experiments/tree_sizes_shipped;
                 # de / de-long: 1.30x / 0.97x, 1.40x / 1.08x, 1.34x / 1.16x, experiments/embedded_weights)
                 cpu_options={"adaptive": True}),
    "pld": Method("model.pld.drafter", "prompt lookup: proposes what followed the last n-gram's earlier occurrence"),
    "eagle": Method("model.eagle.eagle1", "EAGLE: a one-layer head on the target's features drafts a static tree",
                    weights="head", tree="static", training_task="eagle", shipped="eagle"),
    "eagle2": Method("model.eagle.eagle2", "EAGLE-2: the EAGLE head grows a tree by draft confidence",
                     weights="head", tree="dynamic", training_task="eagle", shipped="eagle",
                     cpu_options=CPU_DYNAMIC_TREE),
    "eagle3": Method("model.eagle.eagle3", "EAGLE-3: a head on three target layers, trained with training-time test",
                     weights="head", tree="dynamic", training_task="eagle3", shipped="eagle3",
                     cpu_options=CPU_DYNAMIC_TREE),
    "lookahead": Method("model.lookahead.drafter", "lookahead decoding: Jacobi iterations fill an n-gram pool",
                        tree="dynamic"),
    "medusa": Method("model.medusa.drafter", "Medusa: one head per future position, candidates in a tree",
                     weights="head", tree="static", training_task="medusa", shipped="medusa"),
    "hydra": Method("model.hydra.drafter", "Hydra: sequentially dependent heads, candidates in a tree",
                    weights="head", tree="static", training_task="hydra", shipped="hydra"),
    "ctc": Method("model.ctc.drafter", "CTC drafter: blank-aware heads, prefix beam search into a trie",
                  weights="head", tree="dynamic", training_task="ctc", shipped="ctc",
                  cpu_options={"total_tokens": 10}),
}


# methods whose drafts are trees: verified with a 4-D attention mask, which flash-attention kernels cannot read
TREE_METHODS = frozenset(name for name, method in METHODS.items() if method.tree)


def method_module(name: str) -> ModuleType:
    if name not in METHODS:
        raise MethodError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    return importlib.import_module(METHODS[name].module)


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
