"""EAGLE-1/2 and EAGLE-3 nets: greedy lossless with untrained heads, the draft net's cache after partial
acceptance, dynamic-tree selection, and static-tree building."""
from __future__ import annotations

import math

import pytest
import torch
from lossless import LosslessLedger, answer_vocabulary
from test_lossless_tiny import MODELS, prompts, reference_greedy
from tiny import tiny_llama

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, Stopper, commit, generate
from model.common.static_tree import best_tree, check_tree, children_ranks
from model.common.target import Target
from model.common.tree_search import DynamicTree, StaticTree
from model.eagle.drafter import EagleDrafter
from model.eagle import net3
from model.eagle.net import new_net
from model.registry import build_drafter
from model.sd.vocab import DraftVocab


def random_head(model, folder, vocab: DraftVocab | None = None, seed: int = 0, eagle3: bool = False) -> str:
    """An untrained head saved like a trained one: EAGLE-1/2's net, or EAGLE-3's fusing hidden states 0, 1 and 2."""
    torch.manual_seed(seed)
    make = (lambda *a, **k: net3.new_net(*a, feature_layers=(0, 1, 2), **k)) if eagle3 else new_net
    make(model, vocab, heads=2, kv_heads=2, intermediate_size=96).save(folder)
    return str(folder)


@pytest.mark.parametrize("name", list(MODELS))
def test_eagle_lossless_on_tiny_models(name, tmp_path):
    target = Target(MODELS[name]())
    references = [reference_greedy(target.model, prompt, 30) for prompt in prompts(96)]
    answers = answer_vocabulary(references, 96)
    full = random_head(target.model, tmp_path / "full")
    reduced = random_head(target.model, tmp_path / "reduced", answers, seed=1)
    fused = random_head(target.model, tmp_path / "eagle3", answers, seed=2, eagle3=True)
    cfg = GenerationConfig(max_new_tokens=30)
    variants = [("eagle2", {"head": full}), ("eagle2", {"head": reduced, "depth": 3, "top_k": 4, "total_tokens": 12}),
                ("eagle2", {"head": reduced, "depth": 8, "top_k": 2, "total_tokens": 10, "min_path_prob": 0.01}),
                ("eagle", {"head": reduced, "total_tokens": 20, "depth": 4, "top_k": 3}), ("eagle", {"head": reduced}),
                ("eagle2", {"head": fused, "depth": 4, "top_k": 3, "total_tokens": 12}), ("eagle", {"head": fused})]
    ledger = LosslessLedger()
    for prompt, expected in zip(prompts(96), references):
        for method, options in variants:
            drafter = build_drafter(method, target, options, accept=AcceptConfig())
            ledger.check(f"{method} {options}", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()


@pytest.mark.parametrize("eagle3", [False, True])
def test_net_cache_matches_a_fresh_feed_after_partial_acceptance(tmp_path, eagle3):
    """After every step the drafter's cache and root distribution equal those of a drafter reset on the committed text."""
    target = Target(tiny_llama())
    net_folder = random_head(target.model, tmp_path / "head", eagle3=eagle3)
    drafter = build_drafter("eagle2", target, {"head": net_folder, "top_k": 3, "total_tokens": 8, "depth": 3}, accept=AcceptConfig())
    accept = AcceptConfig()
    stopper = Stopper(GenerationConfig(max_new_tokens=100))
    state = target.prefill([1, 4, 8, 15, 16, 23], accept, drafter.hidden_layers)
    drafter.reset(state)
    accepted_some = False
    for _ in range(16):
        draft = drafter.propose(state)
        verdict = target.verify(state, draft, accept, drafter.hidden_layers)
        commit(state, verdict, stopper)
        drafter.update(state, verdict)
        accepted_some |= 0 < len(verdict.accepted)
        fresh = build_drafter("eagle2", target, {"head": net_folder}, accept=accept)
        fresh_state = target.prefill(state.tokens[:-1], accept, fresh.hidden_layers)
        fresh.reset(fresh_state)
        assert drafter.cache.get_seq_length() == fresh.cache.get_seq_length() == state.cached_len
        for mine, theirs in zip(drafter.cache.layers, fresh.cache.layers):
            torch.testing.assert_close(mine.keys, theirs.keys, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(mine.values, theirs.values, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(drafter.root_logp, fresh.root_logp, atol=1e-4, rtol=1e-4)
    assert accepted_some, "no draft token was ever accepted: partial acceptance untested"


def spy_on_select(policy) -> dict:
    """Record the pool the policy chooses from (host copies of its tensors) and what it chose."""
    seen = {}
    real_select = policy.select

    def spy(pool):
        chosen = real_select(pool)
        seen.update(tokens=pool.tokens.tolist(), parents=pool.parents.tolist(), scores=pool.scores.tolist(),
                    depths=pool.depths.tolist(), chosen=chosen.tolist())
        return chosen

    policy.select = spy
    return seen


def propose_once(policy, seed: int | None = None):
    """One EAGLE draft from an untrained net on a tiny Llama, with the pool the policy chose from recorded."""
    target = Target(tiny_llama())
    if seed is not None:
        torch.manual_seed(seed)
    drafter = EagleDrafter(new_net(target.model, heads=2, kv_heads=2, intermediate_size=96), policy)
    state = target.prefill([1, 4, 8, 15], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    seen = spy_on_select(policy)
    return drafter, state, drafter.propose(state), seen


def test_dynamic_tree_keeps_the_most_probable_nodes_in_parent_order(tmp_path):
    drafter, state, draft, seen = propose_once(DynamicTree(depth=4, top_k=5, total_tokens=17))
    scores, parents, chosen = seen["scores"], seen["parents"], seen["chosen"]
    assert len(draft) == 17 and len(scores) == 5 + 4 * 25
    assert chosen == sorted(chosen) and all(p < i for i, p in enumerate(draft.parents))
    cutoff = min(scores[i] for i in chosen)
    assert all(scores[i] <= cutoff for i in range(len(scores)) if i not in chosen)
    assert all(parents[i] in chosen or parents[i] == -1 for i in chosen)
    assert draft.tokens == [seen["tokens"][i] for i in chosen]  # full vocabulary: draft ids are target ids
    assert max(draft.depths()) <= 5
    assert drafter.cache.get_seq_length() == state.cached_len  # drafted entries are cut off again


def test_dynamic_tree_frontier_is_the_top_k_of_each_level():
    """Every expanded node is among the top_k of its level by path log-probability (ties: earlier first),
    and children's scores add their own log-probability to their parent's."""
    policy = DynamicTree(depth=3, top_k=3, total_tokens=20)
    drafter, _, _, seen = propose_once(policy, seed=0)
    scores, parents, depths = seen["scores"], seen["parents"], seen["depths"]
    for d in range(1, max(depths)):
        level = [i for i in range(len(scores)) if depths[i] == d]
        top = sorted(level, key=lambda i: (-scores[i], i))[: policy.top_k]
        assert sorted({parents[i] for i in range(len(scores)) if depths[i] == d + 1}) == sorted(top)
    root_children = [i for i in range(len(scores)) if parents[i] == -1]
    torch.testing.assert_close(torch.tensor([scores[i] for i in root_children]),
                               drafter.root_logp.topk(3).values.cpu(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("sharpness, min_path_prob", [(20.0, 0.02), (10.0, 0.5), (1.0, 0.9)])
def test_dynamic_tree_grows_only_confident_nodes(sharpness, min_path_prob):
    """Only nodes whose path probability reaches min_path_prob get children; growth stops when none does."""
    target = Target(tiny_llama())
    torch.manual_seed(0)
    net = new_net(target.model, heads=2, kv_heads=2, intermediate_size=96)
    with torch.no_grad():
        net.head.mul_(sharpness)  # a sharper random head keeps some paths probable for several levels
    policy = DynamicTree(depth=6, top_k=3, total_tokens=40, min_path_prob=min_path_prob)
    drafter = EagleDrafter(net, policy)
    state = target.prefill([1, 4, 8, 15], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    seen = spy_on_select(policy)
    drafter.propose(state)
    scores, parents, depths, floor = seen["scores"], seen["parents"], seen["depths"], math.log(min_path_prob)
    assert all(scores[i] >= floor for i in {p for p in parents if p >= 0})
    deepest = max(depths)
    if deepest < policy.depth:  # stopped early: nothing at the last level was confident enough to grow
        assert all(s < floor for s, d in zip(scores, depths) if d == deepest)
    assert (deepest < policy.depth) == (min_path_prob > 0.1)  # with this seed: 7 levels, 5 levels, 1 level
    if sharpness == 1.0:  # a flat head over 96 tokens: no path reaches 0.9, so only the root's children
        assert len(scores) == policy.top_k and deepest == 1
    assert drafter.cache.get_seq_length() == state.cached_len


def test_static_tree_follows_rank_paths(tmp_path):
    target = Target(tiny_llama())
    net = new_net(target.model, heads=2, kv_heads=2, intermediate_size=96)
    paths = [(0,), (1,), (0, 0), (0, 2), (0, 0, 0)]
    drafter = EagleDrafter(net, StaticTree(paths))
    state = target.prefill([1, 4, 8, 15], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    draft = drafter.propose(state)
    assert draft.parents == [-1, -1, 0, 0, 2]
    top = drafter.root_logp.topk(2).indices.tolist()
    assert draft.tokens[:2] == top


def test_best_tree_by_hand():
    # depth 1: ranks 0.6, 0.3; depth 2: ranks 0.5, 0.2 -> values 0.6, 0.3, 0.30 (0,0), 0.15 (1,0), 0.12 (0,1)
    acc = [[0.6, 0.3], [0.5, 0.2]]
    assert best_tree(acc, 3) == [(0,), (1,), (0, 0)]
    assert best_tree(acc, 5) == [(0,), (1,), (0, 0), (0, 1), (1, 0)]
    assert best_tree(acc, 100) == [(0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
    assert children_ranks(best_tree(acc, 5)) == {(): [0, 1], (0,): [0, 1], (1,): [0]}
    with pytest.raises(ValueError, match="no parent"):
        check_tree([(0,), (1, 0)])


def test_eagle3_method_takes_eagle3_heads_only(tmp_path):
    target = Target(tiny_llama())
    eagle1 = random_head(target.model, tmp_path / "eagle1")
    with pytest.raises(ValueError, match="use eagle2"):
        build_drafter("eagle3", target, {"head": eagle1}, accept=AcceptConfig())
    fused = random_head(target.model, tmp_path / "eagle3", eagle3=True)
    drafter = build_drafter("eagle3", target, {"head": fused, "depth": 2, "top_k": 2, "total_tokens": 4}, accept=AcceptConfig())
    assert drafter.hidden_layers == (0, 1, 2)


def test_heads_keep_float32_rotary_frequencies_on_a_bf16_target():
    """Placing a head in bf16 must not round its rotary frequencies (a position-growing error); heads compute in the
    target's dtype unless another drafting dtype is asked for."""
    from model.common.heads import place

    model = tiny_llama().to(torch.bfloat16)
    for draft_dtype, expected in (("auto", torch.bfloat16), ("float32", torch.float32)):
        target = Target(model, draft_dtype)
        for net in (new_net(target.model), net3.new_net(target.model, feature_layers=(0, 1, 2))):
            placed = place(net, target)
            assert placed.fc.weight.dtype == expected and placed.head.dtype == expected
            assert all(b.dtype == torch.float32 for name, b in placed.named_buffers() if name.endswith("inv_freq"))


def test_drafting_dtype_is_the_targets_unless_asked():
    from model.common.device import pick_draft_dtype

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert pick_draft_dtype(torch.bfloat16, cpu) == torch.bfloat16 and pick_draft_dtype(torch.float32, cpu) == torch.float32
    assert pick_draft_dtype(torch.float16, gpu, "auto") == torch.float16
    assert pick_draft_dtype(torch.bfloat16, cpu, "float32") == torch.float32
    with pytest.raises(ValueError, match="unknown dtype"):
        pick_draft_dtype(torch.bfloat16, cpu, "fp8")
