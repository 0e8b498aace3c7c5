"""Hydra heads: sequentially dependent draft heads (Ankner et al. 2024).

Head k (1-based) predicts x_{t+1+k} from the target's feature at position t AND the embeddings of
x_{t+1} .. x_{t+k} (the pending token and the draft tokens above it on the path), so a node's
candidates depend on its path, unlike Medusa's. Each head: Linear((k+1)H -> H), residual blocks
`h + SiLU(W h)`, then the target's LM head.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model.common.heads import FrozenTarget, load_head, save_head, target_parts
from model.medusa.net import ResBlock
from model.sd.vocab import DraftVocab

KIND = "hydra"


@dataclass(frozen=True)
class HydraShape:
    hidden_size: int
    feature_layer: int  # target hidden_states index the heads read (num_hidden_layers: the LM head's input)
    num_heads: int = 4
    layers: int = 1  # residual blocks per head after its input projection


class HydraNet(FrozenTarget):
    def __init__(self, shape: HydraShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(embed, head, vocab)
        self.shape = shape
        hidden = shape.hidden_size
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear((k + 2) * hidden, hidden), *(ResBlock(hidden) for _ in range(shape.layers)))
            for k in range(shape.num_heads))

    def head_feature(self, features: torch.Tensor, prefix_embeds: torch.Tensor) -> torch.Tensor:
        """features (N, H), prefix_embeds (N, k, H) of x_{t+1}..x_{t+k} -> head k's feature (N, H)."""
        k = prefix_embeds.shape[1]
        return self.heads[k - 1](torch.cat([features.to(prefix_embeds.dtype), prefix_embeds.flatten(1)], dim=-1))

    def forward(self, features: torch.Tensor, prefix_embeds: torch.Tensor) -> torch.Tensor:
        """Every head at once (one call per training step, as DDP wants): (N, H), (N, K, H) -> (N, K, H)."""
        return torch.stack([self.head_feature(features, prefix_embeds[:, : k + 1]) for k in range(len(self.heads))], dim=1)

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape)


def new_net(target_model, vocab: DraftVocab | None = None, **shape_args) -> HydraNet:
    config = target_model.config.get_text_config()
    shape = HydraShape(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, **shape_args)
    return HydraNet(shape, *target_parts(target_model, vocab), vocab)


def load_net(folder: str | Path, target_model) -> HydraNet:
    return load_head(folder, KIND, HydraShape, HydraNet, target_model)
