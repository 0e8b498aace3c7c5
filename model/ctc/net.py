"""The CTC draft network: EAGLE's draft layer plus S parallel draft slots read out by CTC.

The EAGLE part (fc + one decoder layer over the target's features and token embeddings) predicts the
feature g of the pending token's position. Slot s turns g into a distribution over the draft
vocabulary plus a blank through its own residual block, the target's frozen LM head rows and a
learned blank logit. All slots come from one g, so a whole variable-length draft takes one forward.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from model.common.heads import load_head, save_head
from model.eagle import net as eagle_net
from model.eagle.net import UNUSED, EagleNet, EagleShape
from model.medusa.net import ResBlock
from model.sd.vocab import DraftVocab

KIND = "ctc"


@dataclass(frozen=True)
class CtcShape(EagleShape):
    slots: int = 6  # CTC draft slots; a draft of up to `slots` tokens (3 per 6 slots in training)


class CtcNet(EagleNet):
    def __init__(self, shape: CtcShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__(shape, embed, head, vocab)
        self.slots = nn.ModuleList(ResBlock(shape.hidden_size) for _ in range(shape.slots))
        self.blank = nn.Linear(shape.hidden_size, 1)

    @property
    def blank_id(self) -> int:
        """The blank's index in slot distributions: one past the draft vocabulary."""
        return self.head.shape[0]

    def slot_logits(self, g: torch.Tensor) -> torch.Tensor:
        """(..., H) predicted features -> (..., S, K+1) slot logits, the blank last."""
        h = torch.stack([slot(g.to(self.fc.weight.dtype)) for slot in self.slots], dim=-2)  # (..., S, H)
        return torch.cat([self.logits(h).float(), self.blank(h).float()], dim=-1)

    def save(self, folder: str | Path) -> None:
        save_head(self, folder, KIND, self.shape, skip=UNUSED)


def new_net(target_model, vocab: DraftVocab | None = None, **shape_args) -> CtcNet:
    return eagle_net.new_net(target_model, vocab, CtcShape, CtcNet, **shape_args)


def load_net(folder: str | Path, target_model) -> CtcNet:
    return load_head(folder, KIND, CtcShape, CtcNet, target_model, skip=UNUSED)
