"""Our loop and HF's implementations of the same methods emit the same greedy tokens (float32, tiny models)."""
from __future__ import annotations

import pytest
import torch
from tiny import tiny_llama

from evaluation.compare_hf import build_engines, compare, summarize
from model.common.loop import GenerationConfig
from model.common.target import Target


@pytest.mark.parametrize("drafter_seed", [0, 3])  # 0: the target's own weights (all accepted); 3: random
def test_ours_and_hf_agree_token_for_token(drafter_seed):
    target = Target(tiny_llama(seed=0))
    drafter = tiny_llama(seed=drafter_seed)
    g = torch.Generator().manual_seed(0)
    prompts = [[1] + torch.randint(3, 96, (12,), generator=g).tolist(), [1] + [5, 9, 11, 13] * 4]
    cfg = GenerationConfig(max_new_tokens=20, eos_token_ids=(2,))
    methods = ["ar", "pld", "sd"]
    totals = compare(build_engines(target, None, methods, drafter, gamma=3), [(ids, cfg) for ids in prompts])
    rows = {r["method"]: r for r in summarize(totals, methods)}
    for method in methods:
        assert rows[method]["identical_outputs"] == 1.0, method
        assert totals[method].tokens == totals[f"hf_{method}"].tokens > 0
    assert rows["ar"]["ours_mat"] == rows["ar"]["hf_mat"] == 1.0
    if drafter_seed == 0:  # a perfect drafter: both count several tokens per verification step
        assert rows["sd"]["ours_mat"] > 2 and rows["sd"]["hf_mat"] > 2
