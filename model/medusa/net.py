"""Medusa heads: K residual blocks `h + SiLU(W h)` on the target's LM-head input, sharing its LM head.

Head k (1-based) reads the feature at position t (whose LM-head output is x_{t+1}) and predicts
x_{t+1+k}. W starts at zero, so every head starts out predicting what the LM head predicts.
Published Medusa-1 heads (model/medusa/published.py) end in a trained LM-head copy each instead
(`own_lm_heads`); heads trained here share the target's frozen one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model.common.heads import FrozenTarget, load_head, save_head, target_parts
from model.sd.vocab import DraftVocab

KIND = "medusa"


@dataclass(frozen=True)
class MedusaShape:
    hidden_size: int
    feature_layer: int  # target hidden_states index the heads read (num_hidden_layers: the LM head's input)
    num_heads: int = 4
    layers: int = 1  # residual blocks per head
    own_lm_heads: bool = False  # each head ends in its own LM head (published Medusa-1 heads), not the target's


class ResBlock(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.linear = nn.Linear(hidden, hidden)
        nn.init.zeros_(self.linear.weight)  # identity at start: the head begins as the target's own next-token guess

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + nn.functional.silu(self.linear(h))


class MedusaNet(FrozenTarget):
    def __init__(self, shape: MedusaShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(embed, head, vocab)
        self.shape = shape
        self.heads = nn.ModuleList(nn.Sequential(*(ResBlock(shape.hidden_size) for _ in range(shape.layers)))
                                   for _ in range(shape.num_heads))
        rows = head.shape[0]
        self.lm_heads = nn.ModuleList(nn.Linear(shape.hidden_size, rows, bias=False) for _ in range(shape.num_heads)) \
            if shape.own_lm_heads else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., K, H): head k's feature for x_{t+1+k}."""
        h = features.to(self.param_like().dtype)
        return torch.stack([head(h) for head in self.heads], dim=-2)

    def head_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., K, H) head features -> (..., K, V') draft logits, head k through its own LM head if it has one."""
        if self.lm_heads is None:
            return self.logits(h)
        return torch.stack([lm(h[..., k, :]) for k, lm in enumerate(self.lm_heads)], dim=-2)

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape)


def new_net(target_model, vocab: DraftVocab | None = None, **shape_args) -> MedusaNet:
    config = target_model.config.get_text_config()
    shape = MedusaShape(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, **shape_args)
    return MedusaNet(shape, *target_parts(target_model, vocab), vocab)


def load_net(folder: str | Path, target_model) -> MedusaNet:
    return load_head(folder, KIND, MedusaShape, MedusaNet, target_model)
