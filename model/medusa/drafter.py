"""`medusa`: K heads read the feature behind the pending token; their top-k tokens fill a static tree.

Head d's candidates do not depend on the path above them, so the whole tree comes from one pass of
the heads over one feature. The tree is a set of rank paths: the default one from a prior, or one
built from measured per-head accuracies (python -m model.medusa.calibrate).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from model.common.heads import place
from model.common.state import DecodeState, Verdict
from model.common.static_tree import default_tree, load_tree
from model.common.tree import Draft
from model.common.tree_search import StaticTree, grow, to_draft
from model.medusa.net import MedusaNet, load_net


@dataclass(frozen=True)
class Config:
    head: str = ""  # folder of trained Medusa heads (train/tasks/medusa.py)
    tree: str = ""  # JSON list of rank paths (python -m model.medusa.calibrate writes one); empty: the default tree
    total_tokens: int = 60  # nodes of the default tree
    top_k: int = 10  # widest branching of the default tree

    def __post_init__(self) -> None:
        if self.total_tokens < 1 or self.top_k < 1:
            raise ValueError(f"need total_tokens >= 1 and top_k >= 1, got {self.total_tokens}, {self.top_k}")


class MedusaDrafter:
    def __init__(self, net: MedusaNet, policy: StaticTree):
        if policy.depth > net.shape.num_heads:
            raise ValueError(f"the tree is {policy.depth} deep but there are only {net.shape.num_heads} Medusa heads")
        self.net, self.policy = net.eval(), policy
        self.hidden_layers = (net.shape.feature_layer,)
        self.logp = torch.empty(0)

    @torch.inference_mode()
    def _read(self, feature: torch.Tensor) -> None:
        """Log-probabilities (K, V') of every head for the tokens after the pending one."""
        self.logp = torch.log_softmax(self.net.logits(self.net(feature.to(self.net.head.device))).float(), dim=-1)

    def reset(self, state: DecodeState) -> None:
        self._read(state.hidden[self.hidden_layers[0]][-1])

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        self._read(verdict.hidden[self.hidden_layers[0]][-1])  # the feature whose argmax was the bonus token

    def propose(self, state: DecodeState) -> Draft:
        # level d's nodes all take head d+1's candidates, whatever their path
        pool, chosen = grow(self.policy, self.logp[0], lambda pool, frontier, level: self.logp[level].expand(len(frontier), -1))
        return to_draft(pool, chosen, self.net.to_target)


def build(target, config: Config, **_) -> MedusaDrafter:
    if not config.head:
        raise ValueError("medusa needs trained heads: pass --head FOLDER (train them with scripts/train/medusa.sh)")
    net = place(load_net(config.head, target.model), target)
    depth = net.shape.num_heads
    paths = load_tree(config.tree) if config.tree else default_tree(config.total_tokens, depth, config.top_k)
    return MedusaDrafter(net, StaticTree(paths))
