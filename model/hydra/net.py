"""Hydra heads: sequentially dependent draft heads (Ankner et al. 2024).

Head k (1-based) predicts x_{t+1+k} from the target's feature at position t AND the embeddings of
x_{t+1} .. x_{t+k} (the pending token and the draft tokens above it on the path), so a node's
candidates depend on its path, unlike Medusa's. Each head: Linear((k+1)H -> H), residual blocks
`h + SiLU(W h)`, then the target's LM head.

Optionally (Hydra++'s prefix attention, `context_layers` > 0) the feature the heads read is first
passed through decoder layer(s) of their own that attend over every earlier feature of the
sequence, so the heads see more than the last position (e.g. a source name to copy). Those layers
are transformers' Llama layers with their own KV cache, fed only committed positions.

With `context_next_token` the context layers read, at each position i, fc(cat(f_i, e(x_{i+1}))) instead
of f_i alone: the token that followed (or, at the newest position, the pending token) is always known,
and EAGLE's observation is that a feature together with the token actually chosen after it predicts
the continuation much better than the feature alone. Head 1 then sees what EAGLE's first draft level
sees, for the price of one context pass over the committed tokens per step instead of a decoder-layer
forward per draft level.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import DynamicCache, LlamaModel

from model.common.heads import FrozenTarget, load_head, save_head, target_parts
from model.eagle.net import EagleShape
from model.medusa.net import ResBlock
from model.sd.vocab import DraftVocab

KIND = "hydra"
UNUSED = ("context.embed_tokens",)  # the context layers are fed inputs_embeds; their 1-row table is never saved


@dataclass(frozen=True)
class HydraShape:
    hidden_size: int
    feature_layer: int  # target hidden_states index the heads read (num_hidden_layers: the LM head's input)
    num_heads: int = 4
    layers: int = 1  # residual blocks per head after its input projection
    context_layers: int = 0  # Hydra++ prefix-attention decoder layers over the features (0: none, plain Hydra)
    context_heads: int = 8
    context_kv_heads: int = 8
    context_intermediate_size: int = 1728
    context_next_token: bool = False  # the context layers read the next token's embedding beside each feature

    def __post_init__(self) -> None:
        if self.context_next_token and not self.context_layers:
            raise ValueError("context_next_token needs context layers (context_layers >= 1) to read the tokens")

    def context_config(self):
        return EagleShape(self.hidden_size, self.feature_layer, heads=self.context_heads, kv_heads=self.context_kv_heads,
                          intermediate_size=self.context_intermediate_size, layers=self.context_layers).llama_config()


class HydraNet(FrozenTarget):
    def __init__(self, shape: HydraShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(embed, head, vocab)
        self.shape = shape
        hidden = shape.hidden_size
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear((k + 2) * hidden, hidden), *(ResBlock(hidden) for _ in range(shape.layers)))
            for k in range(shape.num_heads))
        self.context = LlamaModel(shape.context_config()) if shape.context_layers else None
        if self.context is not None:
            self.context.embed_tokens.requires_grad_(False)
        self.context_fc = nn.Linear(2 * hidden, hidden, bias=False) if shape.context_next_token else None
        if self.context_fc is not None:  # start as plain Hydra++: the feature passes unchanged, the token half at zero
            with torch.no_grad():  # (a random projection would cut the heads' direct path to the target's feature)
                self.context_fc.weight.zero_()
                self.context_fc.weight[:, :hidden].copy_(torch.eye(hidden))

    def contextualize(
        self,
        features: torch.Tensor,  # (B, T, H) the target's features
        attention_mask: torch.Tensor | None = None,  # (B, T) padding
        position_ids: torch.Tensor | None = None,  # (B, T)
        cache: DynamicCache | None = None,
        next_ids: torch.Tensor | None = None,  # (B, T) the token after each position, for context_next_token
    ) -> torch.Tensor:
        """The features the heads read (B, T, H): the target's own, or the context layers' output over them."""
        features = features.to(self.param_like().dtype)
        if self.context is None:
            return features
        if self.context_fc is not None:
            if next_ids is None:
                raise ValueError("this Hydra++ head reads the token after each feature: pass next_ids")
            features = self.context_fc(torch.cat([features, self.embed_tokens(next_ids).to(features.dtype)], dim=-1))
        return self.context(inputs_embeds=features, attention_mask=attention_mask, position_ids=position_ids,
                            past_key_values=cache, use_cache=cache is not None).last_hidden_state

    def head_feature(self, features: torch.Tensor, prefix_embeds: torch.Tensor) -> torch.Tensor:
        """features (N, H) (contextualized), prefix_embeds (N, k, H) of x_{t+1}..x_{t+k} -> head k's feature (N, H)."""
        k = prefix_embeds.shape[1]
        return self.heads[k - 1](torch.cat([features.to(prefix_embeds.dtype), prefix_embeds.flatten(1)], dim=-1))

    def forward(self, features: torch.Tensor, attention_mask: torch.Tensor, prefix_embeds: torch.Tensor,
                next_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Every head at every real position at once (one call per training step, as DDP wants):
        features (B, T, H), attention_mask (B, T), prefix_embeds (N, K, H) of the N real positions,
        next_ids (B, T) the token after each position -> (N, K, H)."""
        real = attention_mask.bool()
        context = self.contextualize(features, attention_mask, next_ids=next_ids)[real]
        return torch.stack([self.head_feature(context, prefix_embeds[:, : k + 1]) for k in range(len(self.heads))], dim=1)

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape, skip=UNUSED)


def new_net(target_model, vocab: DraftVocab | None = None, **shape_args) -> HydraNet:
    config = target_model.config.get_text_config()
    shape = HydraShape(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, **shape_args)
    return HydraNet(shape, *target_parts(target_model, vocab), vocab)


def load_net(folder: str | Path, target_model) -> HydraNet:
    return load_head(folder, KIND, HydraShape, HydraNet, target_model, skip=UNUSED)
