"""Greedy lossless on the real embedded target (float32): sd, pld, lookahead, EAGLE-1/2, EAGLE-3, Medusa, Hydra (plain and
with Hydra++'s context layer, also reading the next tokens) and CTC (all with untrained heads) and tree drafts emit plain decoding's tokens,
on multilingual prompts and on a prompt longer than Gemma 3's 512-token sliding window."""
from __future__ import annotations

import pytest
import torch
from drafters import TreeDrafter
from lossless import LosslessLedger, accepted_drafts, answer_vocabulary
from tiny import tiny_gemma3

from data_processing.sample_sentences import sample_prompts
from model.ar.drafter import PlainDrafter
from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.static_tree import default_tree
from model.common.target import Target
from model.common.tree_search import DynamicTree, StaticTree
from model.ctc import net as ctc_net
from model.ctc.drafter import Config as CtcConfig
from model.ctc.drafter import CtcDrafter
from model.eagle.drafter import EagleDrafter
from model.eagle import net3
from model.eagle.net import new_net
from model.hydra import net as hydra_net
from model.hydra.drafter import HydraDrafter
from model.lookahead.drafter import Config as LookaheadConfig
from model.lookahead.drafter import LookaheadDrafter
from model.medusa import net as medusa_net
from model.medusa.drafter import MedusaDrafter
from model.pld.drafter import Config as PldConfig
from model.pld.drafter import PromptLookupDrafter
from model.sd.drafter import Config as SdConfig
from model.sd.drafter import DraftModelDrafter

pytestmark = pytest.mark.slow  # the real target: most of the suite's time


STORY = " ".join(f"Item {i}: the {['red', 'green', 'blue'][i % 3]} box holds {i * 7 % 13} apples." for i in range(60))
LONG_PROMPT = STORY + "\nQuestion: what does item 61 say?\nAnswer:"  # longer than Gemma 3's 512-token window


def prompt_budgets() -> list[tuple[str, int]]:
    return [(prompt, 16) for _, prompt in sample_prompts(per_language=1)] + [(LONG_PROMPT, 24)]


def plain_reference(model, target: Target, tokenizer, prompt: str, max_new_tokens: int) -> list[int]:
    """Plain decoding through the loop, checked against the model with no cache at all: one forward over prompt +
    answer, whose argmax at every position must be the next answer token (teacher forcing reproduces greedy)."""
    ids = tokenizer(prompt).input_ids
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_ids=(tokenizer.eos_token_id,))
    tokens = generate(ids, target, PlainDrafter(), cfg, tokenizer).tokens
    with torch.inference_mode():
        logits = model(torch.tensor([ids + tokens])).logits[0, len(ids) - 1: -1]
    assert logits.argmax(dim=-1).tolist() == tokens, "plain decoding differs from a no-cache forward"
    return tokens


@pytest.fixture(scope="module")
def setup(gemma_fp32):
    model, tokenizer = gemma_fp32
    target = Target(model)
    references = {prompt: plain_reference(model, target, tokenizer, prompt, n) for prompt, n in prompt_budgets()}
    # a random drafter with the target's vocabulary: losslessness must not depend on drafter quality
    random_drafter = tiny_gemma3(vocab_size=target.vocab_size, window=512, layers=2, seed=1)
    # untrained heads over the tokens the answers use (losslessness cannot depend on the head; drafting among the
    # answers' tokens makes some drafts right, so acceptance is exercised too)
    vocab = answer_vocabulary(list(references.values()), target.vocab_size)
    torch.manual_seed(0)
    eagle_net = new_net(model, vocab, heads=4, kv_heads=4, intermediate_size=256)
    eagle3_net = net3.new_net(model, vocab, heads=4, kv_heads=4, intermediate_size=256, tap_norm=True)  # layers 2, 9, 15
    # an untrained CTC head, its slots randomised so drafts vary
    ctc = ctc_net.new_net(model, vocab, heads=4, kv_heads=4, intermediate_size=256, slots=4)
    # untrained Medusa / Hydra heads; Medusa's zero-initialised blocks randomised so its heads differ
    medusa = medusa_net.new_net(model, vocab, num_heads=3)
    for block in (*ctc.slots, *(head[0] for head in medusa.heads)):
        torch.nn.init.normal_(block.linear.weight, std=0.05)
    hydra = hydra_net.new_net(model, vocab, num_heads=3)
    context = {"context_layers": 1, "context_heads": 4, "context_kv_heads": 4, "context_intermediate_size": 256}
    hydra_context = hydra_net.new_net(model, vocab, num_heads=3, **context)
    hydra_context_tokens = hydra_net.new_net(model, vocab, num_heads=3, context_next_token=True, **context)
    torch.nn.init.normal_(hydra_context_tokens.context_fc.weight, std=0.05)  # untrained, its tokens would weigh nothing
    heads = (eagle_net, eagle3_net, ctc, medusa, hydra, hydra_context, hydra_context_tokens)
    return target, tokenizer, random_drafter, heads, references


def drafters(target: Target, random_drafter, heads):
    eagle_net, eagle3_net, ctc, medusa, hydra, hydra_context, hydra_context_tokens = heads
    tree = StaticTree(default_tree(12, 3, 3))
    return {
        "pld": PromptLookupDrafter(PldConfig()),
        "sd-random": DraftModelDrafter(random_drafter, SdConfig(gamma=3), AcceptConfig(), None),
        "sd-self": DraftModelDrafter(target.model, SdConfig(gamma=3), AcceptConfig(), None),
        "tree-random": TreeDrafter(random_drafter, branch=2, depth=2),
        "lookahead": LookaheadDrafter(LookaheadConfig()),
        "eagle2": EagleDrafter(eagle_net, DynamicTree(depth=3, top_k=4, total_tokens=16)),
        "eagle": EagleDrafter(eagle_net, StaticTree(default_tree(12, 4, 3))),
        "eagle3": EagleDrafter(eagle3_net, DynamicTree(depth=3, top_k=4, total_tokens=16)),
        "ctc": CtcDrafter(ctc, CtcConfig(beam=8, top_k=4, total_tokens=12)),
        "medusa": MedusaDrafter(medusa, tree),
        "hydra": HydraDrafter(hydra, tree),
        "hydra++": HydraDrafter(hydra_context, tree),
        "hydra++-next-token": HydraDrafter(hydra_context_tokens, tree),
    }


# drafters whose drafts are right by construction (the target itself) or often enough (untrained heads over the
# answers' tokens): on the five multilingual answers every one of them has drafts accepted; on the single 24-token
# answer to the long prompt only some heads do (random heads over ~100 tokens), so that test names those
MUST_ACCEPT = ["sd-self", "eagle2", "eagle", "eagle3", "ctc", "medusa", "hydra", "hydra++", "hydra++-next-token"]
MUST_ACCEPT_LONG = ["sd-self", "eagle3", "medusa", "hydra", "hydra++-next-token"]


def check_methods_agree(setup, prompts: list[tuple[str, int]]) -> LosslessLedger:
    target, tokenizer, random_drafter, heads, references = setup
    ledger = LosslessLedger()
    for prompt, max_new_tokens in prompts:
        ids = tokenizer(prompt).input_ids
        expected = references[prompt]
        assert len(expected) > 3
        cfg = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_ids=(tokenizer.eos_token_id,))
        for label, drafter in drafters(target, random_drafter, heads).items():
            ledger.check(f"{label}", generate(ids, target, drafter, cfg, tokenizer), expected)
    return ledger


def test_multilingual_prompts_lossless(setup):
    ledger = check_methods_agree(setup, prompt_budgets()[:-1])
    ledger.assert_drafts_accepted(MUST_ACCEPT)


def test_prompt_longer_than_sliding_window_lossless(setup):
    target, tokenizer, *_ = setup
    assert target.window == 512
    assert len(tokenizer(LONG_PROMPT).input_ids) > 600
    ledger = check_methods_agree(setup, prompt_budgets()[-1:])  # against plain decoding checked with no cache
    ledger.assert_drafts_accepted(["pld", "lookahead", *MUST_ACCEPT_LONG])  # the story repeats itself: copying pays


def test_stop_string_cuts_identically(setup):
    target, tokenizer, random_drafter, *_ = setup
    ids = tokenizer(sample_prompts(1)[0][1]).input_ids
    cfg = GenerationConfig(max_new_tokens=40, stop_strings=("\n",))
    plain = generate(ids, target, PlainDrafter(), cfg, tokenizer)
    text = tokenizer.decode(plain.tokens)
    assert text.endswith("\n") and text.count("\n") == 1
    sd = generate(ids, target, DraftModelDrafter(target.model, SdConfig(gamma=4), AcceptConfig(), None), cfg, tokenizer)
    assert sd.tokens == plain.tokens
    assert accepted_drafts(sd) > 0
