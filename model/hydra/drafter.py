"""`hydra`: sequentially dependent heads grow a static tree level by level.

Level d's nodes are expanded together by head d+1, each reading the feature behind the pending
token and the embeddings of the pending token and its own path; one small MLP pass per level.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from model.common.heads import place
from model.common.state import DecodeState, Verdict
from model.common.static_tree import default_tree, load_tree
from model.common.tree import Draft
from model.common.tree_search import Node, StaticTree, grow, path_tokens, to_draft
from model.hydra.net import HydraNet, load_net


@dataclass(frozen=True)
class Config:
    head: str = ""  # folder of trained Hydra heads (train/tasks/hydra.py)
    tree: str = ""  # JSON list of rank paths; empty: the default tree
    total_tokens: int = 60  # nodes of the default tree
    top_k: int = 10  # widest branching of the default tree

    def __post_init__(self) -> None:
        if self.total_tokens < 1 or self.top_k < 1:
            raise ValueError(f"need total_tokens >= 1 and top_k >= 1, got {self.total_tokens}, {self.top_k}")


class HydraDrafter:
    def __init__(self, net: HydraNet, policy: StaticTree):
        if policy.depth > net.shape.num_heads:
            raise ValueError(f"the tree is {policy.depth} deep but there are only {net.shape.num_heads} Hydra heads")
        self.net, self.policy = net.eval(), policy
        self.hidden_layers = (net.shape.feature_layer,)
        self.feature = torch.empty(0)

    def reset(self, state: DecodeState) -> None:
        self.feature = state.hidden[self.hidden_layers[0]][-1]

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        self.feature = verdict.hidden[self.hidden_layers[0]][-1]  # the feature whose argmax was the bonus token

    def _logp(self, prefixes: torch.Tensor) -> torch.Tensor:
        """Target-id prefixes (F, k) starting with the pending token -> head k's log-probs (F, V')."""
        embeds = self.net.embed_tokens(prefixes)  # (F, k, H)
        features = self.feature.to(embeds.device).expand(len(prefixes), -1)
        return torch.log_softmax(self.net.logits(self.net.head_feature(features, embeds)).float(), dim=-1)

    def _expand(self, pending: int, pool: list[Node], frontier: list[int]) -> torch.Tensor:
        paths = [path_tokens(pool, i) for i in frontier]  # draft ids, all the same length
        prefixes = torch.cat([torch.full((len(paths), 1), pending), self.net.to_target(torch.tensor(paths))], dim=1)
        return self._logp(prefixes)

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        pending = state.tokens[-1]
        root = self._logp(torch.tensor([[pending]]))[0]
        pool, chosen = grow(self.policy, root, lambda pool, frontier, level: self._expand(pending, pool, frontier))
        return to_draft(pool, chosen, self.net.to_target)


def build(target, config: Config, **_) -> HydraDrafter:
    if not config.head:
        raise ValueError("hydra needs trained heads: pass --head FOLDER (train them with scripts/train/hydra.sh)")
    net = place(load_net(config.head, target.model), target)
    paths = load_tree(config.tree) if config.tree else default_tree(config.total_tokens, net.shape.num_heads, config.top_k)
    return HydraDrafter(net, StaticTree(paths))
