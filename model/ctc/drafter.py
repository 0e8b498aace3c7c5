"""`ctc`: the CTC drafter (Wen et al., 2024). Per step, the draft net's feature for the pending token
gives S slot distributions at once; prefix beam search reads them as token sequences (blanks removed,
repeats merged, equal readings summed) and their trie is verified in one target forward. The net's
cache follows the committed text exactly as EAGLE's does."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from model.common.heads import place
from model.common.state import DecodeState
from model.common.tree import Draft
from model.ctc.collapse import beam_search_over, trie
from model.ctc.net import CtcNet, load_net
from model.eagle.drafter import EagleDrafter


@dataclass(frozen=True)
class Config:
    head: str = ""  # folder of a trained CTC head (train/tasks/ctc.py)
    beam: int = 16  # sequences kept by prefix beam search per slot
    top_k: int = 8  # tokens per slot considered besides the blank
    total_tokens: int = 32  # trie nodes verified per step

    def __post_init__(self) -> None:
        if min(self.beam, self.top_k, self.total_tokens) < 1:
            raise ValueError(f"beam, top_k and total_tokens must be >= 1; got {self.beam}, {self.top_k}, {self.total_tokens}")


class CtcDrafter(EagleDrafter):
    def __init__(self, net: CtcNet, config: Config):
        super().__init__(net, policy=None)
        self.config = config

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        probs = torch.softmax(self.net.slot_logits(self.root_feature).float(), dim=-1)  # (S, K+1), the blank last
        blank = probs[:, self.net.blank_id]
        top = probs[:, : self.net.blank_id].topk(min(self.config.top_k, self.net.blank_id), dim=-1)  # on the device
        ids = self.net.to_target(top.indices)  # (S, k) target ids
        read = torch.cat([blank[:, None].double(), top.values.double(), ids.double()], dim=1).tolist()  # the one read
        k = top.indices.shape[1]
        slots = [(row[0], [(int(t), p) for p, t in zip(row[1 : 1 + k], row[1 + k :])]) for row in read]
        tokens, parents = trie(beam_search_over(slots, self.config.beam), self.config.total_tokens)
        if not tokens:  # every slot read as blank: nothing to propose this step
            return Draft.empty()
        return Draft(tokens, parents)


def build(target, config: Config, **_) -> CtcDrafter:
    if not config.head:
        raise ValueError("ctc needs a trained head: pass --head FOLDER (train one with scripts/train/ctc.sh)")
    return CtcDrafter(place(load_net(config.head, target.model), target), config)
