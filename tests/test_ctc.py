"""CTC drafter: collapse rules, prefix beam search against brute force, trie merging, CTC targets, and
greedy losslessness with untrained (randomised) slots on tiny models."""
from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
import torch
from lossless import LosslessLedger, answer_vocabulary
from test_lossless_tiny import MODELS, prompts, reference_greedy

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.ctc.collapse import collapse, prefix_beam_search, trie
from model.ctc.drafter import Config, CtcDrafter
from model.ctc.net import new_net
from model.registry import build_drafter
from model.sd.vocab import DraftVocab
from train.tasks.ctc import next_tokens
from train.tasks.features import IGNORE

BLANK = 9


@pytest.mark.parametrize("path, tokens", [
    ([BLANK, BLANK, BLANK], ()),
    ([4, 4, BLANK, 4], (4, 4)),  # a blank separates a real repeat
    ([4, 4, 4, 4], (4,)),
    ([BLANK, 1, BLANK, 2, 2, BLANK], (1, 2)),
    ([3, 1, 3], (3, 1, 3)),
])
def test_collapse(path, tokens):
    assert collapse(path, BLANK) == tokens


def test_prefix_beam_search_sums_every_slot_path():
    rng = np.random.default_rng(0)
    slots, symbols = 4, 4  # tokens 0..2, blank 3
    probs = rng.dirichlet(np.ones(symbols), size=slots)
    exact: dict[tuple, float] = defaultdict(float)
    for path in itertools.product(range(symbols), repeat=slots):
        exact[collapse(path, 3)] += float(np.prod([probs[s, c] for s, c in enumerate(path)]))
    found = prefix_beam_search(probs, blank=3, beam=10_000, top_k=3)
    assert {seq: pytest.approx(p) for seq, p in found} == {seq: p for seq, p in exact.items() if seq}
    assert [p for _, p in found] == sorted((p for _, p in found), reverse=True)
    best = prefix_beam_search(probs, blank=3, beam=2, top_k=2)
    assert len(best) <= 2 and all(p <= exact[seq] + 1e-12 for seq, p in best)  # pruned beams hold part of the mass


def test_trie_merges_prefixes_and_keeps_ancestors():
    candidates = [((5, 6, 7), 0.4), ((5, 6), 0.3), ((5, 8), 0.2), ((9,), 0.1)]
    tokens, parents = trie(candidates, total_tokens=10)
    assert (tokens, parents) == ([5, 9, 6, 8, 7], [-1, -1, 0, 0, 2])  # 5 shared by three candidates
    tokens, parents = trie(candidates, total_tokens=3)
    assert (tokens, parents) == ([5, 6, 7], [-1, 0, 1])  # mass: 5 -> 0.9, (5,6) -> 0.7, (5,6,7) -> 0.4 > 0.2
    assert trie([], 5) == ([], [])


def test_ctc_targets_stop_at_ignored_labels():
    labels = torch.tensor([[4, 5, IGNORE, 6, 7, 8]])
    ahead, lengths = next_tokens(labels, 3)
    assert ahead[0, 0].tolist() == [4, 5, IGNORE] and lengths[0].tolist() == [2, 1, 0, 3, 2, 1]


def random_ctc_head(model, folder, vocab: DraftVocab | None = None, seed: int = 0) -> str:
    torch.manual_seed(seed)
    net = new_net(model, vocab, heads=2, kv_heads=2, intermediate_size=96, slots=4)
    for slot in net.slots:  # slots start as the identity; randomise them so drafts vary per slot
        torch.nn.init.normal_(slot.linear.weight, std=0.3)
    torch.nn.init.normal_(net.blank.weight, std=0.3)
    net.save(folder)
    return str(folder)


@pytest.mark.parametrize("name", list(MODELS))
def test_ctc_lossless_on_tiny_models(name, tmp_path):
    target = Target(MODELS[name]())
    references = [reference_greedy(target.model, prompt, 30) for prompt in prompts(96)]
    full = random_ctc_head(target.model, tmp_path / "full")
    reduced = random_ctc_head(target.model, tmp_path / "reduced", answer_vocabulary(references, 96), seed=1)
    cfg = GenerationConfig(max_new_tokens=30)
    variants = [{"head": full}, {"head": reduced, "beam": 4, "top_k": 2, "total_tokens": 6}, {"head": full, "total_tokens": 1}]
    ledger = LosslessLedger()
    for prompt, expected in zip(prompts(96), references):
        for options in variants:
            drafter = build_drafter("ctc", target, options, accept=AcceptConfig())
            ledger.check(f"ctc {options}", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()


def test_ctc_drafts_are_tries_within_budget(tmp_path):
    target = Target(MODELS["llama"]())
    drafter = CtcDrafter(build_drafter("ctc", target, {"head": random_ctc_head(target.model, tmp_path / "h")},
                                       accept=AcceptConfig()).net, Config(beam=8, top_k=3, total_tokens=7))
    state = target.prefill(prompts(96)[0], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    draft = drafter.propose(state)
    assert 0 < len(draft.tokens) <= 7
    paths = set()
    for i in range(len(draft.tokens)):
        path, j = [], i
        while j >= 0:
            path.append(draft.tokens[j])
            j = draft.parents[j]
        paths.add(tuple(path[::-1]))
    assert len(paths) == len(draft.tokens)  # merged: no two nodes spell the same sequence
