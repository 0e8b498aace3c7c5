"""The verifier: tree masks give full-context logits (sliding window included), and the KV commit
leaves exactly the cache plain decoding would have."""
from __future__ import annotations

import pytest
import torch
from drafters import RandomChainDrafter, TreeDrafter
from tiny import tiny_gemma3, tiny_llama

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, Stopper, commit
from model.common.target import Target
from model.common.tree import Draft, ancestor_matrix, block_attention, leaf_paths, path_to

MODELS = {"gemma3-window4": lambda: tiny_gemma3(window=4), "llama": tiny_llama}


def random_tree(n: int, vocab: int, g: torch.Generator) -> Draft:
    parents = [-1] + [int(torch.randint(-1, i, (1,), generator=g)) for i in range(1, n)]
    return Draft(torch.randint(3, vocab, (n,), generator=g).tolist(), parents)


@pytest.mark.parametrize("name", list(MODELS))
def test_tree_logits_equal_full_context_logits(name):
    target = Target(MODELS[name]())
    g = torch.Generator().manual_seed(0)
    prompt = [1] + torch.randint(3, 96, (15,), generator=g).tolist()  # longer than the window
    for _ in range(3):
        state = target.prefill(prompt, AcceptConfig())
        draft = random_tree(12, 96, g)
        logits, _ = target.forward_draft(state, draft)
        for node in range(-1, len(draft)):
            context = state.tokens + [draft.tokens[i] for i in path_to(draft.parents, node)]
            with torch.inference_mode():
                full = target.model(torch.tensor([context])).logits[0, -1]
            torch.testing.assert_close(logits[node + 1], full, rtol=1e-4, atol=1e-4)


def assert_cache_equals_plain(target: Target, state) -> None:
    fresh = target.prefill(state.tokens[:-1], AcceptConfig())  # caches exactly the committed tokens
    assert state.cache.get_seq_length() == fresh.cache.get_seq_length() == len(state.tokens) - 1
    for ours, plain in zip(state.cache.layers, fresh.cache.layers):
        torch.testing.assert_close(ours.keys, plain.keys, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours.values, plain.values, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_kv_cache_after_rejections_equals_plain_decoding(name):
    target = Target(MODELS[name]())
    cfg = GenerationConfig(max_new_tokens=200)
    stopper = Stopper(cfg)
    for drafter in (RandomChainDrafter(96, length=5), TreeDrafter(target.model, branch=2, depth=3),
                    TreeDrafter(tiny_llama(seed=3), branch=2, depth=2)):
        state = target.prefill([1, 7, 9, 11, 7, 9, 12, 40], AcceptConfig())
        for _ in range(6):
            commit(state, target.verify(state, drafter.propose(state), AcceptConfig()), stopper)
        assert_cache_equals_plain(target, state)


def test_ancestor_matrix_and_paths():
    parents = [-1, -1, 0, 0, 2]
    seen = ancestor_matrix(parents)
    assert seen[5].nonzero().flatten().tolist() == [0, 1, 3, 5]  # node 4: root, 0, 2, itself
    assert seen[2].nonzero().flatten().tolist() == [0, 2]
    assert path_to(parents, 4) == [0, 2, 4]
    assert leaf_paths(parents) == [[1], [0, 3], [0, 2, 4]]  # leaves in node order
    assert Draft([5, 6, 7, 8, 9], parents).depths() == [1, 1, 2, 2, 3]


def test_block_attention_applies_window_by_position():
    positions = torch.tensor([10, 11, 11, 12])  # root at 10, two children, one grandchild of node 0
    seen = ancestor_matrix([-1, -1, 0])
    mask = block_attention(10, positions, seen, window=3, dtype=torch.float32)[0, 0] == 0
    assert mask[0].nonzero().flatten().tolist() == [8, 9, 10]  # keys at positions > 10 - 3
    assert mask[3].nonzero().flatten().tolist() == [10, 11, 13]  # grandchild (position 12): root, parent, itself
    no_window = block_attention(10, positions, seen, window=None, dtype=torch.float32)[0, 0] == 0
    assert no_window[2].nonzero().flatten().tolist() == list(range(10)) + [10, 12]


def test_draft_rejects_parent_after_child():
    with pytest.raises(ValueError, match="parents must precede"):
        Draft([1, 2], [1, -1])
