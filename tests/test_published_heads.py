"""Published heads: EAGLE-1/2 (SafeAILab/EAGLE layout) and Medusa-1 (FasterDecoding/Medusa layout). The loaded
nets compute what the published architectures compute (checked against references written out below), draft
losslessly, and refuse heads made for another target."""
from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import save_file
from lossless import LosslessLedger
from test_lossless_tiny import prompts, reference_greedy
from tiny import tiny_llama

from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.registry import build_drafter
from model.eagle.load import load_head
from model.medusa.drafter import load_heads as load_medusa

HIDDEN, HEADS, KV_HEADS, FFN, THETA, EPS = 64, 4, 2, 96, 5000.0, 0.25  # unusual eps and theta: a dropped one shows


def write_published_head(folder, target_model, layers: int = 1, bias: bool = True, fmt: str = "bin", seed: int = 0):
    """A random head in the published layout: config.json + pytorch_model.bin (or model.safetensors)."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=g) * 0.2  # noqa: E731
    hd = HIDDEN // HEADS
    weights = {"embed_tokens.weight": target_model.get_input_embeddings().weight.detach().clone(),
               "fc.weight": rand(HIDDEN, 2 * HIDDEN)}
    if bias:
        weights["fc.bias"] = rand(HIDDEN)
    for n in range(layers):
        p = f"layers.{n}."
        weights.update({p + "self_attn.q_proj.weight": rand(HEADS * hd, HIDDEN), p + "self_attn.k_proj.weight": rand(KV_HEADS * hd, HIDDEN),
                        p + "self_attn.v_proj.weight": rand(KV_HEADS * hd, HIDDEN), p + "self_attn.o_proj.weight": rand(HIDDEN, HEADS * hd),
                        p + "mlp.gate_proj.weight": rand(FFN, HIDDEN), p + "mlp.up_proj.weight": rand(FFN, HIDDEN),
                        p + "mlp.down_proj.weight": rand(HIDDEN, FFN), p + "post_attention_layernorm.weight": 1 + rand(HIDDEN)})
        if n > 0:  # the published net has no norm before its first layer's attention
            weights[p + "input_layernorm.weight"] = 1 + rand(HIDDEN)
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": HIDDEN, "intermediate_size": FFN,
              "num_hidden_layers": layers, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
              "rms_norm_eps": EPS, "rope_theta": THETA, "max_position_embeddings": 2048, "vocab_size": 96, "bias": bias}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    if fmt == "bin":
        torch.save(weights, folder / "pytorch_model.bin")
    else:
        save_file(weights, str(folder / "model.safetensors"))
    return weights


def rms(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * weight


def reference_layer(w: dict[str, torch.Tensor], p: str, attention_input: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """One Llama layer written out from the paper: rotary positions 0..T-1, causal attention over
    `attention_input` added to `residual`, then the MLP on the normed sum. (T, ·) -> (T, H)."""
    def rotate(x, pos):  # (T, n, hd): rotary embedding, halves rotated
        hd = x.shape[-1]
        freqs = pos[:, None].float() / THETA ** (torch.arange(0, hd, 2).float() / hd)  # (T, hd/2)
        cos, sin = torch.cat([freqs, freqs], -1).cos()[:, None], torch.cat([freqs, freqs], -1).sin()[:, None]
        return x * cos + torch.cat([-x[..., hd // 2:], x[..., : hd // 2]], -1) * sin

    T, hd = attention_input.shape[0], HIDDEN // HEADS
    pos = torch.arange(T)
    q = rotate((attention_input @ w[p + "self_attn.q_proj.weight"].T).view(T, HEADS, hd), pos)
    k = rotate((attention_input @ w[p + "self_attn.k_proj.weight"].T).view(T, KV_HEADS, hd), pos)
    v = (attention_input @ w[p + "self_attn.v_proj.weight"].T).view(T, KV_HEADS, hd)
    k, v = k.repeat_interleave(HEADS // KV_HEADS, 1), v.repeat_interleave(HEADS // KV_HEADS, 1)
    scores = torch.einsum("qnd,knd->nqk", q, k) / math.sqrt(hd) + torch.full((T, T), -math.inf).triu(1)
    attended = torch.einsum("nqk,knd->qnd", scores.softmax(-1), v).reshape(T, HEADS * hd)
    x = residual + attended @ w[p + "self_attn.o_proj.weight"].T
    h = rms(x, w[p + "post_attention_layernorm.weight"])
    return x + (torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T


def reference_forward(w: dict[str, torch.Tensor], layers: int, embeds: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """EAGLE-1's draft net: fc over cat(embedding, feature), Llama layers (the first without its input
    norm), no final norm. (T, H) -> (T, H)."""
    x = torch.cat([embeds, features], -1) @ w["fc.weight"].T + w.get("fc.bias", 0)
    for n in range(layers):
        x = reference_layer(w, f"layers.{n}.", x if n == 0 else rms(x, w[f"layers.{n}.input_layernorm.weight"]), x)
    return x


def eagle3_reference_logits(w: dict[str, torch.Tensor], embeds: torch.Tensor, fused: torch.Tensor) -> torch.Tensor:
    """EAGLE-3's draft net: g = fc(low, mid, high); attention reads cat(norm(embedding), norm(g)) with g as the
    residual; its own LM head on the normed output. (T, H), (T, 3H) -> (T, D)."""
    g = fused @ w["fc.weight"].T
    both = torch.cat([rms(embeds, w["midlayer.input_layernorm.weight"]), rms(g, w["midlayer.hidden_norm.weight"])], -1)
    return rms(reference_layer(w, "midlayer.", both, g), w["norm.weight"]) @ w["lm_head.weight"].T


@pytest.mark.parametrize("layers,bias,fmt", [(1, True, "bin"), (2, False, "safetensors")])
def test_published_head_computes_the_published_architecture(layers, bias, fmt, tmp_path):
    target = Target(tiny_llama())
    weights = write_published_head(tmp_path / "head", target.model, layers, bias, fmt)
    net = load_head(str(tmp_path / "head"), target)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(3, 96, (9,), generator=g)
    features = torch.randn(9, HIDDEN, generator=g)
    embeds = target.model.get_input_embeddings()(ids).detach()
    with torch.no_grad():
        ours = net(features[None], net.embed_tokens(ids)[None], torch.arange(9)[None])[0]
    torch.testing.assert_close(ours, reference_forward(weights, layers, embeds, features), atol=1e-4, rtol=1e-4)


def test_published_head_drafts_losslessly(tmp_path):
    target = Target(tiny_llama())
    write_published_head(tmp_path / "head", target.model)
    cfg = GenerationConfig(max_new_tokens=30)
    ledger = LosslessLedger()
    for prompt in prompts(96):
        expected = reference_greedy(target.model, prompt, 30)
        for method, options in [("eagle2", {"depth": 3, "top_k": 3, "total_tokens": 10}), ("eagle", {"total_tokens": 12, "depth": 3, "top_k": 3})]:
            drafter = build_drafter(method, target, {"head": str(tmp_path / "head"), **options}, accept=AcceptConfig())
            ledger.check(f"{method} with a published head", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()


def test_published_head_for_another_target_is_refused(tmp_path):
    target = Target(tiny_llama())
    write_published_head(tmp_path / "other", tiny_llama(seed=4))  # same shapes, another model's embedding
    with pytest.raises(ValueError, match="another model"):
        load_head(str(tmp_path / "other"), target)
    weights = write_published_head(tmp_path / "broken", target.model)
    del weights["layers.0.mlp.up_proj.weight"]
    torch.save(weights, tmp_path / "broken" / "pytorch_model.bin")
    with pytest.raises(ValueError, match="missing .*up_proj"):
        load_head(str(tmp_path / "broken"), target)
    config = json.loads((tmp_path / "broken" / "config.json").read_text())
    (tmp_path / "broken" / "config.json").write_text(json.dumps({**config, "hidden_size": 128}))
    with pytest.raises(ValueError, match="hidden size 128"):
        load_head(str(tmp_path / "broken"), target)


def write_published_medusa(folder, vocab: int = 96, heads: int = 3, blocks: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random Medusa-1 heads in the published layout: config.json + medusa_lm_head.pt."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for i in range(heads):
        for j in range(blocks):
            weights[f"{i}.{j}.linear.weight"] = torch.randn(HIDDEN, HIDDEN, generator=g) * 0.2
            weights[f"{i}.{j}.linear.bias"] = torch.randn(HIDDEN, generator=g) * 0.2
        weights[f"{i}.{blocks}.weight"] = torch.randn(vocab, HIDDEN, generator=g)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"medusa_num_heads": heads, "medusa_num_layers": blocks,
                                                    "base_model_name_or_path": "tiny-llama"}))
    torch.save(weights, folder / "medusa_lm_head.pt")
    return weights


def test_published_medusa_heads_compute_the_published_architecture(tmp_path):
    target = Target(tiny_llama())
    weights = write_published_medusa(tmp_path / "medusa", blocks=2)
    net = load_medusa(str(tmp_path / "medusa"), target.model)
    h = torch.randn(5, HIDDEN, generator=torch.Generator().manual_seed(1))
    expected = []
    for i in range(3):  # head i: residual blocks h + SiLU(W h + b), then its own LM head
        x = h
        for j in range(2):
            x = x + torch.nn.functional.silu(x @ weights[f"{i}.{j}.linear.weight"].T + weights[f"{i}.{j}.linear.bias"])
        expected.append(x @ weights[f"{i}.2.weight"].T)
    with torch.no_grad():
        torch.testing.assert_close(net.head_logits(net(h)), torch.stack(expected, dim=-2), atol=1e-4, rtol=1e-4)


def test_published_medusa_heads_draft_losslessly_and_refuse_another_target(tmp_path):
    target = Target(tiny_llama())
    write_published_medusa(tmp_path / "medusa")
    cfg = GenerationConfig(max_new_tokens=30)
    ledger = LosslessLedger()
    for prompt in prompts(96):
        expected = reference_greedy(target.model, prompt, 30)
        for options in [{"total_tokens": 12, "top_k": 3}, {"dynamic": True, "total_tokens": 8, "top_k": 2}]:
            drafter = build_drafter("medusa", target, {"head": str(tmp_path / "medusa"), **options}, accept=AcceptConfig())
            ledger.check(f"medusa {options} with published heads", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()
    write_published_medusa(tmp_path / "other", vocab=128)
    with pytest.raises(ValueError, match="another model"):
        load_medusa(str(tmp_path / "other"), target.model)


def write_published_eagle3(folder, target_model, draft_ids: list[int], seed: int = 0) -> dict[str, torch.Tensor]:
    """A random EAGLE-3 head in the published layout, drafting over `draft_ids` (d2t / t2d)."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=g) * 0.2  # noqa: E731
    hd, vocab = HIDDEN // HEADS, target_model.get_input_embeddings().weight.shape[0]
    p = "midlayer."
    weights = {"embed_tokens.weight": target_model.get_input_embeddings().weight.detach().clone(),
               "fc.weight": rand(HIDDEN, 3 * HIDDEN), "norm.weight": 1 + rand(HIDDEN),
               "lm_head.weight": rand(len(draft_ids), HIDDEN) * 5,
               "d2t": torch.tensor(draft_ids) - torch.arange(len(draft_ids)),
               "t2d": torch.zeros(vocab, dtype=torch.bool).index_fill_(0, torch.tensor(draft_ids), True),
               p + "self_attn.q_proj.weight": rand(HEADS * hd, 2 * HIDDEN), p + "self_attn.k_proj.weight": rand(KV_HEADS * hd, 2 * HIDDEN),
               p + "self_attn.v_proj.weight": rand(KV_HEADS * hd, 2 * HIDDEN), p + "self_attn.o_proj.weight": rand(HIDDEN, HEADS * hd),
               p + "mlp.gate_proj.weight": rand(FFN, HIDDEN), p + "mlp.up_proj.weight": rand(FFN, HIDDEN),
               p + "mlp.down_proj.weight": rand(HIDDEN, FFN), p + "input_layernorm.weight": 1 + rand(HIDDEN),
               p + "hidden_norm.weight": 1 + rand(HIDDEN), p + "post_attention_layernorm.weight": 1 + rand(HIDDEN)}
    config = {"architectures": ["LlamaForCausalLMEagle3"], "hidden_size": HIDDEN, "intermediate_size": FFN,
              "num_hidden_layers": 1, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "rms_norm_eps": EPS,
              "rope_theta": THETA, "max_position_embeddings": 2048, "vocab_size": vocab, "draft_vocab_size": len(draft_ids)}
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    save_file(weights, str(folder / "model.safetensors"))
    return weights


def test_published_eagle3_head_computes_the_published_architecture_and_drafts_losslessly(tmp_path):
    target = Target(tiny_llama(layers=8))  # EAGLE-3 taps hidden states 2, 4 and 5 of an 8-layer target
    draft_ids = sorted(torch.randperm(96, generator=torch.Generator().manual_seed(5))[:40].tolist())
    weights = write_published_eagle3(tmp_path / "head", target.model, draft_ids)
    net = load_head(str(tmp_path / "head"), target)
    assert net.feature_layers == (2, 4, 5)
    assert net.to_target(torch.arange(40)).tolist() == draft_ids
    g = torch.Generator().manual_seed(3)
    ids, fused = torch.randint(3, 96, (9,), generator=g), torch.randn(9, 3 * HIDDEN, generator=g)
    embeds = target.model.get_input_embeddings()(ids).detach()
    with torch.no_grad():
        ours = net.logits(net(fused[None], net.embed_tokens(ids)[None], torch.arange(9)[None]))[0]
    torch.testing.assert_close(ours, eagle3_reference_logits(weights, embeds, fused), atol=1e-4, rtol=1e-4)
    cfg = GenerationConfig(max_new_tokens=30)
    ledger = LosslessLedger()
    for prompt in prompts(96):
        expected = reference_greedy(target.model, prompt, 30)
        drafter = build_drafter("eagle2", target, {"head": str(tmp_path / "head"), "depth": 3, "top_k": 3, "total_tokens": 10},
                                accept=AcceptConfig())
        ledger.check("eagle2 with a published EAGLE-3 head", generate(prompt, target, drafter, cfg), expected)
    ledger.assert_drafts_accepted()


def test_unreachable_hub_head_is_a_clear_error():
    """A hub id that cannot be fetched (no hub here, or no such repository) names itself; nothing is half-loaded."""
    target = Target(tiny_llama())
    with pytest.raises(FileNotFoundError, match="neither a local folder nor a reachable hub repository"):
        load_head("multispec-tests/no-such-eagle-head", target)
    with pytest.raises(FileNotFoundError, match="neither a local folder"):  # not even a valid repository id
        load_head("no such/head", target)


def test_published_eagle3_head_for_a_larger_vocabulary_is_refused(tmp_path):
    target = Target(tiny_llama(layers=8))
    weights = write_published_eagle3(tmp_path / "head", target.model, list(range(30, 70)))
    del weights["embed_tokens.weight"]  # published EAGLE-3 heads usually carry no embedding to compare
    weights["d2t"][-1] += 100  # a draft id mapped past the target's 96 tokens
    save_file(weights, str(tmp_path / "head" / "model.safetensors"))
    with pytest.raises(ValueError, match="another model"):
        load_head(str(tmp_path / "head"), target)
