"""Lookahead decoding: greedy lossless on tiny models, the window's tree masks, pool eviction, the Jacobi update."""
from __future__ import annotations

import torch
from lossless import LosslessLedger
from test_lossless_tiny import MODELS, prompts, reference_greedy

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.state import DecodeState, Verdict
from model.common.target import Target
from model.common.tree import ancestor_matrix
from model.lookahead.drafter import Config, LookaheadDrafter
from model.lookahead.pool import NgramPool


def test_lookahead_lossless_on_tiny_models():
    ledger = LosslessLedger()
    for name, make in MODELS.items():
        target = Target(make())
        cfg = GenerationConfig(max_new_tokens=40)
        for prompt in prompts(96):
            expected = reference_greedy(target.model, prompt, 40)
            for config in (Config(), Config(window=3, ngram=3, guesses=2), Config(prompt_ngrams=False, guesses=0)):
                ledger.check(f"{name} {config}", generate(prompt, target, LookaheadDrafter(config), cfg), expected)
    ledger.assert_drafts_accepted()


def window_drafter(levels: list[list[int]], pool: list[tuple[int, ...]] = (), ngram: int = 0) -> tuple[LookaheadDrafter, DecodeState]:
    ngram = ngram or len(levels) + 1
    drafter = LookaheadDrafter(Config(window=len(levels[0]), ngram=ngram, guesses=3, prompt_ngrams=False))
    drafter.levels = [list(row) for row in levels]
    for continuation in pool:
        drafter.pool.add((9,) + continuation)
    return drafter, DecodeState(tokens=[1, 5, 9], prompt_len=2, cache=None)


def test_window_masks_follow_the_paper():
    """Level l, column j sits at depth j+1+l and sees level 0 up to column j, then its own column."""
    drafter, state = window_drafter([[10, 11, 12], [20, 21, 22], [30, 31, 32]])
    draft = drafter.propose(state)
    assert draft.tokens == [10, 11, 12, 20, 21, 22, 30, 31, 32]
    assert draft.depths() == [1, 2, 3, 2, 3, 4, 3, 4, 5]
    seen = ancestor_matrix(draft.parents)[1:, 1:]  # node x node, root dropped
    sees = {draft.tokens[i]: sorted(draft.tokens[k] for k in range(len(draft)) if seen[i, k]) for i in range(len(draft))}
    assert sees[31] == [10, 11, 21, 31]
    assert sees[22] == [10, 11, 12, 22]
    assert sees[30] == [10, 20, 30]
    assert drafter.newest == [6, 7, 8]


def test_verification_branch_is_a_trie_of_the_pending_tokens_ngrams():
    drafter, state = window_drafter([[10, 11]], pool=[(4, 5), (4, 6), (7, 8)], ngram=3)
    draft = drafter.propose(state)
    branch = list(zip(draft.tokens[2:], draft.parents[2:]))
    assert branch == [(7, -1), (8, 2), (4, -1), (6, 4), (5, 4)]  # newest first; the shared prefix 4 appears once


def test_jacobi_update_collects_columns_as_ngrams():
    drafter, state = window_drafter([[10, 11], [20, 21]])
    draft = drafter.propose(state)
    argmax = [0] * (len(draft) + 1)
    argmax[drafter.newest[0] + 1], argmax[drafter.newest[1] + 1] = 40, 41
    drafter.update(state, Verdict(accepted=[], tokens=[3], draft_size=len(draft), node_argmax=argmax))
    assert drafter.levels == [[20, 21], [40, 41]]
    assert drafter.pool.get(10) == [(20, 40)] and drafter.pool.get(11) == [(21, 41)]


def test_pool_keeps_at_most_g_newest_per_key():
    pool = NgramPool(3, per_key=2)
    for ngram in ([1, 2, 3], [1, 4, 5], [1, 2, 3], [1, 6, 7], [2, 2, 2]):
        pool.add(ngram)
    assert pool.get(1) == [(6, 7), (2, 3)]  # (4, 5) was the oldest once (2, 3) was refreshed
    assert pool.get(2) == [(2, 2)] and pool.get(9) == []


def test_sampling_with_lookahead_runs_through_point_masses():
    """Sampling through lookahead's point-mass nodes (its distribution is tested in test_sampling): a seed gives one
    answer, another seed another."""
    target = Target(MODELS["llama"]())

    def sample(seed: int) -> list[int]:
        return generate([1, 4, 8, 4, 8], target, LookaheadDrafter(Config(window=3, ngram=3)),
                        GenerationConfig(max_new_tokens=20, accept=AcceptConfig(temperature=0.9)),
                        generator=torch.Generator().manual_seed(seed)).tokens

    first = sample(0)
    assert len(first) == 20 and sample(0) == first and sample(1) != first
