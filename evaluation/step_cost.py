"""Time of one forward against a KV cache of a causal LM: a decoding step (one new token), and a
verification block (γ+1 new tokens). The drafter's step over the target's is the cost ratio c in
Leviathan's speedup model; the target's block over its step is what verifying γ+1 tokens really costs,
which the model takes to be 1."""
from __future__ import annotations

import statistics
import time

import torch
from transformers import DynamicCache

from model.common.device import synchronize
from model.common.target import truncate_cache


@torch.inference_mode()
def step_time(model, context_ids: list[int], steps: int = 32, repeats: int = 3, block: int = 1) -> float:
    """Median seconds per forward over `block` new tokens after a prefill of `context_ids` (ids in the
    model's vocabulary). block=1 decodes (the cache grows); a larger block is fed again and again, each
    time after cutting the cache back to the context, as a rejected draft is."""
    device = model.device
    times = []
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        cache = DynamicCache()
        out = model(torch.tensor([context_ids], device=device), past_key_values=cache, use_cache=True)
        tokens = out.logits[:, -1:].argmax(-1).repeat(1, block)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            out = model(tokens, past_key_values=cache, use_cache=True)
            if block == 1:
                tokens = out.logits[:, -1:].argmax(-1)
            else:
                truncate_cache(cache, len(context_ids))
        synchronize(device)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times[1:])


def verify_cost(model, context_ids: list[int], gamma: int, step: float) -> float:
    """Time of the target's forward over γ+1 tokens (a verification) over its single-token `step` time."""
    return step_time(model, context_ids, block=gamma + 1) / step
