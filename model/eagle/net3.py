"""The EAGLE-3 draft network: fused low / mid / high target features and one decoder layer that reads
the token embedding and the feature side by side.

    g   = fc(cat(f_low, f_mid, f_high))               (3H -> H), only where real target features come in
    x   = cat(norm_e(e(x_{i+1})), norm_g(g))           (2H): attention's q, k and v read both halves
    a   = g + attention(x);  out = a + mlp(norm(a))    the residual stream is the feature's alone
    p   = softmax(LM head(norm_out(out)))

From the second draft level on, a node's `g` is its parent's `out` (no fc): the net reads its own
predictions there, which is what the training-time test (train/tasks/eagle.py `unroll`) trains for.
The target's layers are HF hidden-state indices (2, L // 2, L - 3), as in EAGLE-3's code; there is no
feature-regression loss (no single target feature corresponds to `out`), only cross-entropy.

The LM head is the target's frozen one, restricted to the draft vocabulary, for nets trained here;
published EAGLE-3 heads bring their own (`own_lm_head`, model/eagle/published.py). The attention,
MLP, norms and rotary embedding are transformers' Llama modules; the layer wiring is the only new code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import DynamicCache
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP, LlamaRMSNorm, LlamaRotaryEmbedding

from model.common.heads import FrozenTarget, load_head, save_head, target_parts
from model.eagle.net import EagleShape
from model.sd.vocab import DraftVocab

KIND = "eagle3"


def default_feature_layers(num_layers: int) -> tuple[int, int, int]:
    """EAGLE-3's low, mid and high taps as HF hidden-state indices: the inputs of decoder layers 2, L//2 and L-3."""
    if num_layers < 7:
        raise ValueError(f"EAGLE-3's taps (2, L // 2, L - 3) need a target of at least 7 layers, this one has "
                         f"{num_layers}: name the layers to fuse (task_args.feature_layers, or integer --layers)")
    return 2, num_layers // 2, num_layers - 3


@dataclass(frozen=True)
class Eagle3Shape(EagleShape):
    """EagleShape's attention / MLP sizes and rotary settings (its layers, norm and fc_bias fields do not apply)."""

    feature_layers: tuple[int, ...] = ()  # target hidden_states indices fused by fc, low to high
    own_lm_head: bool = False  # a trained LM head over the draft vocabulary (published heads) instead of the target's
    # scale each tapped layer to RMS 1 per token before fc: Gemma's residual stream has RMS ~40 at layer 2 and ~800
    # at layer 15 with outliers near 100,000, so unscaled the high layer drowns the others (published heads: off)
    tap_norm: bool = False

    def __post_init__(self) -> None:
        if len(self.feature_layers) < 2:  # the width tells fused target features (kH) from the net's own (H)
            raise ValueError(f"an EAGLE-3 net fuses at least two target layers, got feature_layers={self.feature_layers}")
        object.__setattr__(self, "feature_layers", tuple(self.feature_layers))  # a list after a JSON round trip


class FusedInputLayer(nn.Module):
    """One Llama decoder layer whose attention reads cat(normed embedding, normed feature) (2H wide)."""

    def __init__(self, shape: Eagle3Shape):
        super().__init__()
        config = shape.llama_config()
        hidden, head_dim = shape.hidden_size, config.head_dim
        self.input_layernorm = LlamaRMSNorm(hidden, eps=shape.rms_norm_eps)  # on the token embedding
        self.hidden_norm = LlamaRMSNorm(hidden, eps=shape.rms_norm_eps)  # on the feature
        self.self_attn = LlamaAttention(config, layer_idx=0)
        self.self_attn.q_proj = nn.Linear(2 * hidden, shape.heads * head_dim, bias=False)
        self.self_attn.k_proj = nn.Linear(2 * hidden, shape.kv_heads * head_dim, bias=False)
        self.self_attn.v_proj = nn.Linear(2 * hidden, shape.kv_heads * head_dim, bias=False)
        self.post_attention_layernorm = LlamaRMSNorm(hidden, eps=shape.rms_norm_eps)
        self.mlp = LlamaMLP(config)

    def forward(self, embeds, features, rotary, mask, cache) -> torch.Tensor:
        both = torch.cat([self.input_layernorm(embeds), self.hidden_norm(features)], dim=-1)  # (B, T, 2H)
        attended, _ = self.self_attn(both, position_embeddings=rotary, attention_mask=mask, past_key_values=cache)
        hidden = features + attended
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class Eagle3Net(FrozenTarget):
    def __init__(self, shape: Eagle3Shape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(embed, head, vocab)
        self.shape = shape
        self.fc = nn.Linear(len(shape.feature_layers) * shape.hidden_size, shape.hidden_size, bias=False)
        self.midlayer = FusedInputLayer(shape)
        self.norm = LlamaRMSNorm(shape.hidden_size, eps=shape.rms_norm_eps)
        self.rotary = LlamaRotaryEmbedding(shape.llama_config())
        self.lm_head = nn.Linear(shape.hidden_size, head.shape[0], bias=False) if shape.own_lm_head else None

    @property
    def feature_layers(self) -> tuple[int, ...]:
        return self.shape.feature_layers

    def forward(
        self,
        features: torch.Tensor,  # (B, T, 3H) fused target features, or (B, T, H) the net's own earlier outputs
        next_embeds: torch.Tensor,  # (B, T, H) embeddings of x_{i+1}
        position_ids: torch.Tensor | None = None,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, T) padding or (B, 1, T, K) additive
        cache: DynamicCache | None = None,
    ) -> torch.Tensor:
        """The net's outputs (B, T, H), before the output norm."""
        dtype = self.fc.weight.dtype
        features = features.to(dtype)
        if features.shape[-1] != self.shape.hidden_size:
            if self.shape.tap_norm:  # (B, T, 3H): each H-wide layer to RMS 1, in float32 (squares of 1e5 in bf16 lose digits)
                taps = features.float().unflatten(-1, (len(self.shape.feature_layers), -1))  # (B, T, 3, H)
                features = (taps * torch.rsqrt(taps.pow(2).mean(-1, keepdim=True) + 1e-6)).flatten(-2).to(dtype)
            features = self.fc(features)  # (B, T, H)
        batch, length = features.shape[:2]
        past = cache.get_seq_length() if cache is not None and cache.layers else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=features.device).expand(batch, -1)
        mask = additive_mask(attention_mask, batch, length, past, dtype, features.device)
        return self.midlayer(next_embeds.to(dtype), features, self.rotary(features, position_ids), mask, cache)

    def logits(self, out: torch.Tensor) -> torch.Tensor:
        """Draft logits (..., K) of the net's outputs: output norm, then its own LM head or the target's rows."""
        normed = self.norm(out.to(self.norm.weight.dtype))
        return self.lm_head(normed) if self.lm_head is not None else super().logits(normed)

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape)


def additive_mask(attention_mask: torch.Tensor | None, batch: int, length: int, past: int, dtype: torch.dtype,
                  device: torch.device) -> torch.Tensor:
    """(B, 1, T, past+T) additive mask: a 4-D one as given, else causal over the cache, with key padding if given."""
    if attention_mask is not None and attention_mask.dim() == 4:
        return attention_mask
    query = torch.arange(past, past + length, device=device)[:, None]
    visible = (torch.arange(past + length, device=device)[None, :] <= query)[None].expand(batch, -1, -1)  # (B, T, K)
    if attention_mask is not None:  # (B, T) or (B, past+T): 1 on real tokens
        keys = attention_mask.bool()
        if keys.shape[1] == length and past:
            keys = nn.functional.pad(keys, (past, 0), value=True)
        visible = visible & keys[:, None, :]
    return torch.zeros(visible.shape, dtype=dtype, device=device).masked_fill_(~visible, torch.finfo(dtype).min)[:, None]


def new_net(target_model, vocab: DraftVocab | None = None, feature_layers: tuple[int, ...] | None = None,
            **shape_args) -> Eagle3Net:
    """A randomly initialised net sized for `target_model`, fusing `feature_layers` (EAGLE-3's by default)."""
    config = target_model.config.get_text_config()
    shape_args.setdefault("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    layers = tuple(feature_layers) if feature_layers else default_feature_layers(config.num_hidden_layers)
    shape = Eagle3Shape(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, feature_layers=layers,
                        **shape_args)
    return Eagle3Net(shape, *target_parts(target_model, vocab), vocab)


def load_net(folder: str | Path, target_model) -> Eagle3Net:
    """A net trained here, from `folder`, wired to `target_model`'s embedding and LM head."""
    return load_head(folder, KIND, Eagle3Shape, Eagle3Net, target_model)
