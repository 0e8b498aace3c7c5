"""Greedy lossless on the real embedded target (float32): sd, pld, lookahead, EAGLE-1/2, EAGLE-3, Medusa, Hydra (plain and
with Hydra++'s context layer, also reading the next tokens) and CTC (all with untrained heads) and tree drafts emit plain decoding's tokens,
on multilingual prompts and on a prompt longer than Gemma 3's 512-token sliding window."""
from __future__ import annotations

import pytest
import torch
from drafters import TreeDrafter
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
from model.sd.vocab import DraftVocab


@pytest.fixture(scope="module")
def setup(gemma_fp32):
    model, tokenizer = gemma_fp32
    target = Target(model)
    # a random drafter with the target's vocabulary: losslessness must not depend on drafter quality
    random_drafter = tiny_gemma3(vocab_size=target.vocab_size, window=512, layers=2, seed=1)
    # untrained heads over the 4,096 lowest token ids (losslessness cannot depend on the head either)
    vocab = DraftVocab(list(range(4096)), target.vocab_size)
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
    return target, tokenizer, random_drafter, (eagle_net, eagle3_net, ctc, medusa, hydra, hydra_context, hydra_context_tokens)


def check_methods_agree(target, tokenizer, random_drafter, heads, prompt: str, max_new_tokens: int) -> None:
    eagle_net, eagle3_net, ctc, medusa, hydra, hydra_context, hydra_context_tokens = heads
    tree = StaticTree(default_tree(12, 3, 3))
    ids = tokenizer(prompt).input_ids
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_ids=(tokenizer.eos_token_id,))
    plain = generate(ids, target, PlainDrafter(), cfg, tokenizer)
    assert len(plain.tokens) > 3
    for drafter in (
        PromptLookupDrafter(PldConfig()),
        DraftModelDrafter(random_drafter, SdConfig(gamma=3), AcceptConfig(), None),
        TreeDrafter(random_drafter, branch=2, depth=2),
        LookaheadDrafter(LookaheadConfig()),
        EagleDrafter(eagle_net, DynamicTree(depth=3, top_k=4, total_tokens=16)),
        EagleDrafter(eagle_net, StaticTree(default_tree(12, 4, 3))),
        EagleDrafter(eagle3_net, DynamicTree(depth=3, top_k=4, total_tokens=16)),
        CtcDrafter(ctc, CtcConfig(beam=8, top_k=4, total_tokens=12)),
        MedusaDrafter(medusa, tree),
        HydraDrafter(hydra, tree),
        HydraDrafter(hydra_context, tree),
        HydraDrafter(hydra_context_tokens, tree),
    ):
        out = generate(ids, target, drafter, cfg, tokenizer)
        assert out.tokens == plain.tokens, f"{type(drafter).__name__} diverged on {prompt!r}"


def test_multilingual_prompts_lossless(setup):
    for _, prompt in sample_prompts(per_language=1):
        check_methods_agree(*setup, prompt, max_new_tokens=16)


def test_prompt_longer_than_sliding_window_lossless(setup):
    target, tokenizer, *_ = setup
    assert target.window == 512
    story = " ".join(f"Item {i}: the {['red', 'green', 'blue'][i % 3]} box holds {i * 7 % 13} apples." for i in range(60))
    prompt = story + "\nQuestion: what does item 61 say?\nAnswer:"
    assert len(tokenizer(prompt).input_ids) > 600
    check_methods_agree(*setup, prompt, max_new_tokens=24)


def test_stop_string_cuts_identically(setup):
    target, tokenizer, random_drafter, _ = setup
    ids = tokenizer(sample_prompts(1)[0][1]).input_ids
    cfg = GenerationConfig(max_new_tokens=40, stop_strings=("\n",))
    plain = generate(ids, target, PlainDrafter(), cfg, tokenizer)
    text = tokenizer.decode(plain.tokens)
    assert text.endswith("\n") and text.count("\n") == 1
    sd = generate(ids, target, DraftModelDrafter(target.model, SdConfig(gamma=4), AcceptConfig(), None), cfg, tokenizer)
    assert sd.tokens == plain.tokens
