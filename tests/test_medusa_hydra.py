"""Medusa and Hydra: greedy lossless with untrained heads on tiny models, Medusa's tree uses each head's
own candidates at its depth, Hydra's candidates depend on the path, Hydra++'s context cache holds
exactly the committed text, and both stay lossless on a dynamic (EAGLE-2) tree."""
from __future__ import annotations

import pytest
import torch
from lossless import LosslessLedger, answer_vocabulary
from test_lossless_tiny import MODELS, prompts, reference_greedy
from tiny import tiny_llama

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, Stopper, commit, generate
from model.common.target import Target
from model.common.tree_search import StaticTree
from model.hydra.drafter import HydraDrafter
from model.hydra.net import new_net as new_hydra
from model.medusa.drafter import MedusaDrafter
from model.medusa.net import new_net as new_medusa
from model.registry import build_drafter


CONTEXT = {"context_layers": 1, "context_heads": 2, "context_kv_heads": 2, "context_intermediate_size": 48}  # Hydra++
CONTEXT_TOKENS = {**CONTEXT, "context_next_token": True}  # Hydra++ whose context reads each feature's next token


def randomize(net, seed: int):
    torch.manual_seed(seed)
    for p in net.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.3)  # Medusa's zero init would make every head copy the LM head
    return net


@pytest.mark.parametrize("name", list(MODELS))
def test_medusa_and_hydra_lossless_on_tiny_models(name, tmp_path):
    target = Target(MODELS[name]())
    references = [reference_greedy(target.model, prompt, 30) for prompt in prompts(96)]
    vocab = answer_vocabulary(references, 96)
    randomize(new_medusa(target.model, num_heads=3), 0).save(tmp_path / "medusa")
    randomize(new_hydra(target.model, vocab, num_heads=3), 1).save(tmp_path / "hydra")
    randomize(new_hydra(target.model, vocab, num_heads=3, **CONTEXT), 2).save(tmp_path / "hydra-context")
    randomize(new_hydra(target.model, vocab, num_heads=3, **CONTEXT_TOKENS), 6).save(tmp_path / "hydra-context-tokens")
    cfg = GenerationConfig(max_new_tokens=30)
    heads = (("medusa", "medusa", {"total_tokens": 20, "top_k": 4}), ("hydra", "hydra", {"total_tokens": 12, "top_k": 3}),
             ("hydra", "hydra-context", {"total_tokens": 12, "top_k": 3}),
             ("hydra", "hydra-context-tokens", {"total_tokens": 12, "top_k": 3}),
             ("medusa", "medusa", {"dynamic": True, "total_tokens": 10, "top_k": 3}),
             ("hydra", "hydra-context", {"dynamic": True, "total_tokens": 10, "top_k": 3, "min_path_prob": 0.05}))
    ledger = LosslessLedger()
    for prompt, expected in zip(prompts(96), references):
        for method, head, options in heads:
            drafter = build_drafter(method, target, {"head": str(tmp_path / head), **options}, accept=AcceptConfig())
            ledger.check(f"{head} {options}", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()


@pytest.mark.parametrize("context", [CONTEXT, CONTEXT_TOKENS], ids=["features", "features-and-next-tokens"])
def test_hydra_context_cache_follows_the_committed_text(context):
    """After every step, partial acceptances included, the cached context equals one pass over the committed features
    (and, for a head that reads them, the tokens after them: the newest one's is the pending token)."""
    target = Target(tiny_llama())
    net = randomize(new_hydra(target.model, num_heads=2, **context), 5)
    drafter = HydraDrafter(net, StaticTree([(rank,) for rank in range(24)] + [(0, 0), (1, 0)]))  # wide: random heads hit
    accept, stopper = AcceptConfig(), Stopper(GenerationConfig(max_new_tokens=100))
    state = target.prefill([1, 4, 8, 15, 16, 23], accept, drafter.hidden_layers)
    drafter.reset(state)
    accepted_some = False
    for _ in range(12):
        verdict = target.verify(state, drafter.propose(state), accept, drafter.hidden_layers)
        commit(state, verdict, stopper)
        drafter.update(state, verdict)
        accepted_some |= 0 < len(verdict.accepted)
        assert drafter.cache.get_seq_length() == state.cached_len
        with torch.inference_mode():
            hidden = target.model(torch.tensor([state.tokens[:-1]]), output_hidden_states=True).hidden_states[-1]
            whole = net.contextualize(hidden, next_ids=torch.tensor([state.tokens[1:]]))[0, -1]
        torch.testing.assert_close(drafter.feature, whole, atol=1e-4, rtol=1e-4)
    assert accepted_some, "no draft token was ever accepted: partial acceptance untested"


def test_medusa_nodes_take_their_heads_candidates():
    target = Target(tiny_llama())
    drafter = MedusaDrafter(randomize(new_medusa(target.model, num_heads=2), 3), StaticTree([(0,), (1,), (0, 0), (0, 2), (1, 0)]))
    state = target.prefill([1, 4, 8, 15], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    draft = drafter.propose(state)
    first, second = drafter.logp[0].topk(3).indices.tolist(), drafter.logp[1].topk(3).indices.tolist()
    assert draft.tokens == [first[0], first[1], second[0], second[2], second[0]]
    assert draft.parents == [-1, -1, 0, 0, 1]


def test_hydra_candidates_depend_on_the_path():
    target = Target(tiny_llama())
    drafter = HydraDrafter(randomize(new_hydra(target.model, num_heads=2), 4), StaticTree([(0,), (1,), (0, 0), (1, 0)]))
    state = target.prefill([1, 4, 8, 15], AcceptConfig(), drafter.hidden_layers)
    drafter.reset(state)
    draft = drafter.propose(state)
    pending = state.tokens[-1]
    for node in (2, 3):
        prefix = torch.tensor([[pending, draft.tokens[draft.parents[node]]]])
        assert draft.tokens[node] == int(drafter._logp(prefix)[0].argmax())


def test_untrained_next_token_context_starts_as_plain_hydra_plus_plus():
    """The token half of the context's input projection starts at zero, the feature half as the identity."""
    model = tiny_llama()
    torch.manual_seed(7)
    plain = new_hydra(model, num_heads=2, **CONTEXT)
    torch.manual_seed(7)
    reading = new_hydra(model, num_heads=2, **CONTEXT_TOKENS)  # context_fc is built last: the rest is identical
    ids = torch.tensor([[1, 4, 8, 15, 16, 23]])
    with torch.inference_mode():
        hidden = model(ids, output_hidden_states=True).hidden_states[-1]
        torch.testing.assert_close(reading.contextualize(hidden, next_ids=ids.roll(-1, 1)), plain.contextualize(hidden))


def test_context_next_token_needs_context_layers():
    with pytest.raises(ValueError, match="context_next_token needs context layers"):
        new_hydra(tiny_llama(), num_heads=2, context_next_token=True)


def test_tree_deeper_than_the_heads_is_refused(tmp_path):
    target = Target(tiny_llama())
    with pytest.raises(ValueError, match="only 2 Medusa heads"):
        MedusaDrafter(new_medusa(target.model, num_heads=2), StaticTree([(0,), (0, 0), (0, 0, 0)]))
