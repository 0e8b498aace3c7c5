"""Time of one decoding step (one new token against a KV cache) of a causal LM: the drafter's over the
target's is the cost ratio c in Leviathan's speedup model."""
from __future__ import annotations

import statistics
import time

import torch
from transformers import DynamicCache

from model.common.device import synchronize


@torch.inference_mode()
def step_time(model, context_ids: list[int], steps: int = 32, repeats: int = 3) -> float:
    """Median seconds per single-token forward after a prefill of `context_ids` (ids in the model's vocabulary)."""
    device = model.device
    times = []
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        cache = DynamicCache()
        out = model(torch.tensor([context_ids], device=device), past_key_values=cache, use_cache=True)
        token = out.logits[:, -1:].argmax(-1)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            out = model(token, past_key_values=cache, use_cache=True)
            token = out.logits[:, -1:].argmax(-1)
        synchronize(device)
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times[1:])
