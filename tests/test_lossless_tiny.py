"""Greedy lossless: every method emits exactly plain decoding's tokens (float32, tiny random models)."""
from __future__ import annotations

import pytest
import torch
from drafters import RandomChainDrafter, TreeDrafter
from lossless import LosslessLedger
from tiny import tiny_gemma3, tiny_llama

from model.ar.drafter import PlainDrafter
from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.pld.drafter import Config as PldConfig
from model.pld.drafter import PromptLookupDrafter
from model.sd.drafter import Config as SdConfig
from model.sd.drafter import DraftModelDrafter

MODELS = {"gemma3-window6": lambda seed=0: tiny_gemma3(window=6, seed=seed), "llama": lambda seed=0: tiny_llama(seed=seed)}


def reference_greedy(model, prompt: list[int], n: int) -> list[int]:
    """Greedy decoding recomputing the whole context each step: no cache, the model's own masks."""
    ids = list(prompt)
    with torch.inference_mode():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt) :]


def prompts(vocab: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(7)
    random_prompt = [1] + torch.randint(3, vocab, (20,), generator=g).tolist()
    repetitive = [1] + [5, 9, 11, 13] * 5  # longer than the sliding window, and PLD finds matches
    return [random_prompt, repetitive]


def drafters(name: str, target: Target):
    yield "pld", PromptLookupDrafter(PldConfig())
    yield "sd-random-drafter", DraftModelDrafter(MODELS[name](seed=5), SdConfig(gamma=4), AcceptConfig(), None)
    yield "sd-self-drafter", DraftModelDrafter(target.model, SdConfig(gamma=3), AcceptConfig(), None)
    yield "sd-adaptive", DraftModelDrafter(target.model, SdConfig(gamma=2, adaptive=True), AcceptConfig(), None)
    yield "random-chain", RandomChainDrafter(96)
    yield "tree-self", TreeDrafter(target.model, branch=2, depth=3)
    yield "tree-random", TreeDrafter(MODELS[name](seed=9), branch=3, depth=2)


# drafters that draft the target itself: every draft token is right, so every step but the last (cut by the budget)
# takes the whole draft; the random ones are there to exercise rejection and cache rollback
SELF_DRAFT_LENGTH = {"sd-self-drafter": 3, "tree-self": 3}


@pytest.mark.parametrize("name", list(MODELS))
def test_all_drafters_match_plain_decoding(name):
    target = Target(MODELS[name]())
    cfg = GenerationConfig(max_new_tokens=30)
    ledger = LosslessLedger()
    for prompt in prompts(96):
        expected = reference_greedy(target.model, prompt, 30)
        plain = generate(prompt, target, PlainDrafter(), cfg)
        assert plain.tokens == expected
        assert plain.stats.mean_accepted == 1.0
        for label, drafter in drafters(name, target):
            out = generate(prompt, target, drafter, cfg)
            ledger.check(label, out, expected)
            if label in SELF_DRAFT_LENGTH:
                assert set(out.stats.accept_lengths[1:-1]) == {SELF_DRAFT_LENGTH[label] + 1}, (label, out.stats.accept_lengths)
    ledger.assert_drafts_accepted(["pld", "sd-self-drafter", "sd-adaptive", "tree-self"])


def test_self_drafting_accepts_everything():
    """A drafter identical to the target is always right: every step emits gamma + 1 tokens."""
    target = Target(tiny_llama())
    out = generate([1, 4, 8], target, DraftModelDrafter(target.model, SdConfig(gamma=4), AcceptConfig(), None),
                   GenerationConfig(max_new_tokens=21))
    assert out.stats.accept_lengths == [1, 5, 5, 5, 5]


def test_stops_at_eos_inside_an_accepted_draft():
    target = Target(tiny_llama())
    prompt = [1, 4, 8, 15]
    full = reference_greedy(target.model, prompt, 20)
    eos = full[7]
    cut = full.index(eos) + 1
    cfg = GenerationConfig(max_new_tokens=20, eos_token_ids=(eos,))
    for drafter in (PlainDrafter(), DraftModelDrafter(target.model, SdConfig(gamma=5), AcceptConfig(), None)):
        assert generate(prompt, target, drafter, cfg).tokens == full[:cut]
