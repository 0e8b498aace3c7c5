"""The EAGLE draft network: one decoder layer that predicts the target's next feature.

At net position i the input is (f_i, e(x_{i+1})): the target's feature at position i and the
embedding of the token that follows it, fused by `fc: 2H -> H`. The output approximates f_{i+1};
the target's frozen LM head turns it into a distribution over x_{i+2}. The feature is the LM
head's input (the last hidden state after the final norm, HF index num_hidden_layers), as in
EAGLE's code; for Gemma it is also well scaled, unlike the pre-norm state (std ~1,500).

The decoder layer is transformers' own Llama layer (a one-layer `LlamaModel` fed `inputs_embeds`),
so rotary positions, 4-D tree masks and the KV cache come from the library. Only `fc` and that
layer are trained and saved; the embedding and the LM head rows (all, or the reduced draft
vocabulary's) are taken from the target when the net is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import DynamicCache, LlamaConfig, LlamaModel

from model.common.heads import FrozenTarget, load_head, save_head, target_parts
from model.sd.vocab import DraftVocab

KIND = "eagle"
UNUSED = ("decoder.embed_tokens",)  # the decoder is fed inputs_embeds; its 1-row table is never saved


@dataclass(frozen=True)
class EagleShape:
    hidden_size: int  # the target's H
    feature_layer: int  # target hidden_states index the net reads (num_hidden_layers: the LM head's input)
    heads: int = 8
    kv_heads: int = 8
    intermediate_size: int = 1728
    layers: int = 1
    rope_theta: float = 10000.0
    max_positions: int = 32768
    rms_norm_eps: float = 1e-6
    head_dim: int | None = None  # attention head width; None: hidden_size // heads
    rope_scaling: dict | None = None  # a Llama rope_scaling entry (e.g. Llama 3's), as a published head's config has it
    # the published EAGLE-1/2 net (model/eagle/published.py) has no RMSNorm before its first layer's attention,
    # none after its last layer, and may have an fc without bias; heads trained here keep all three
    input_norm: bool = True
    output_norm: bool = True
    fc_bias: bool = True

    def llama_config(self) -> LlamaConfig:
        return LlamaConfig(vocab_size=1, hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                           num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
                           max_position_embeddings=self.max_positions, rope_theta=self.rope_theta,
                           rope_scaling=self.rope_scaling, rms_norm_eps=self.rms_norm_eps, head_dim=self.head_dim,
                           pad_token_id=None, bos_token_id=None, eos_token_id=None, attn_implementation="sdpa")


class EagleNet(FrozenTarget):
    """fc(2H -> H) + decoder layer(s) over the target's frozen embedding and LM head rows."""

    def __init__(self, shape: EagleShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(embed, head, vocab)
        self.shape = shape
        self.fc = nn.Linear(2 * shape.hidden_size, shape.hidden_size, bias=shape.fc_bias)
        self.decoder = LlamaModel(shape.llama_config())
        self.decoder.embed_tokens.requires_grad_(False)
        if not shape.input_norm:
            self.decoder.layers[0].input_layernorm = nn.Identity()
        if not shape.output_norm:
            self.decoder.norm = nn.Identity()

    @property
    def feature_layers(self) -> tuple[int, ...]:
        """Target hidden_states indices the net reads (concatenated, in this order)."""
        return (self.shape.feature_layer,)

    def forward(
        self,
        features: torch.Tensor,  # (B, T, H) target (or predicted) features f_i
        next_embeds: torch.Tensor,  # (B, T, H) embeddings of x_{i+1}
        position_ids: torch.Tensor | None = None,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, T) padding or (B, 1, T, K) additive
        cache: DynamicCache | None = None,
    ) -> torch.Tensor:
        """Predicted next features (B, T, H)."""
        fused = self.fc(torch.cat([features.to(self.fc.weight.dtype), next_embeds], dim=-1))  # (B, T, H)
        out = self.decoder(inputs_embeds=fused, position_ids=position_ids, attention_mask=attention_mask,
                           past_key_values=cache, use_cache=cache is not None)
        return out.last_hidden_state

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape, skip=UNUSED)


def target_layer_shape(target_model) -> dict:
    """The EagleShape fields of one decoder layer of `target_model` (EAGLE's recipe for 7B+ targets)."""
    config = target_model.config.get_text_config()
    shape = dict(heads=config.num_attention_heads, kv_heads=getattr(config, "num_key_value_heads", None) or config.num_attention_heads,
                 intermediate_size=config.intermediate_size, head_dim=getattr(config, "head_dim", None),
                 rms_norm_eps=getattr(config, "rms_norm_eps", 1e-6))
    # one rope for every layer (Llama 3's scaled rope, Qwen's theta) carries over; per-layer-type ropes (Gemma 3's
    # sliding and full layers) do not fit a single draft layer, which keeps its own default
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    if isinstance(rope, dict) and "rope_type" in rope:
        if rope.get("rope_theta"):
            shape["rope_theta"] = float(rope["rope_theta"])
        if rope["rope_type"] != "default":
            shape["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    return shape


def new_net(target_model, vocab: DraftVocab | None = None, shape_cls: type = EagleShape, net_cls: type = EagleNet,
            **shape_args) -> EagleNet:
    """A randomly initialised net sized for `target_model` (training starts here; tests use it untrained)."""
    config = target_model.config.get_text_config()
    shape_args.setdefault("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    shape = shape_cls(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, **shape_args)
    return net_cls(shape, *target_parts(target_model, vocab), vocab)


def load_net(folder: str | Path, target_model) -> EagleNet:
    """A trained net from `folder`, wired to `target_model`'s embedding and LM head."""
    return load_head(folder, KIND, EagleShape, EagleNet, target_model, skip=UNUSED)
