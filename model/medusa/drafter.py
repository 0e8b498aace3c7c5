"""`medusa`: K heads read the feature behind the pending token; their top-k tokens fill a static tree
(or, with --dynamic, EAGLE-2's confidence-ranked tree, one level per head).

Head d's candidates do not depend on the path above them, so the whole tree comes from one pass of
the heads over one feature. The tree is a set of rank paths: the default one from a prior, or one
built from measured per-head accuracies (python -m model.medusa.calibrate).
"""
from __future__ import annotations

import torch

from model.common.heads import fetch_head, place
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft
from model.common.tree_search import Policy, TreeHeadConfig, grow, to_draft
from model.medusa import published
from model.medusa.net import MedusaNet, load_net


Config = TreeHeadConfig


class MedusaDrafter:
    label = "Medusa"

    def __init__(self, net: MedusaNet, policy: Policy):
        if policy.depth > net.shape.num_heads:
            raise ValueError(f"the tree is {policy.depth} deep but there are only {net.shape.num_heads} {self.label} heads")
        self.net, self.policy = net.eval(), policy
        self.hidden_layers = (net.shape.feature_layer,)
        self.feature = torch.empty(0)
        self.logp = torch.empty(0)

    def reset(self, state: DecodeState) -> None:
        self.feature = state.hidden[self.hidden_layers[0]][-1]

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        self.feature = verdict.hidden[self.hidden_layers[0]][-1]  # the feature whose argmax was the bonus token

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        # every head's log-probabilities (K, V') for the tokens after the pending one, from one pass;
        # level d's nodes all take head d+1's candidates, whatever their path
        self.logp = torch.log_softmax(self.net.head_logits(self.net(self.feature.to(self.net.head.device))).float(), dim=-1)
        pool, chosen = grow(self.policy, self.logp[0], lambda pool, frontier, depth: self.logp[depth].expand(frontier.shape[0], -1))
        return to_draft(pool, chosen, self.net.to_target)


def load_heads(name: str, target_model) -> MedusaNet:
    """Heads trained here (train/tasks/medusa.py), shipped ones (`embedded:de/medusa`), or published Medusa-1 heads
    from a folder or hub id."""
    folder = fetch_head(name, ["config.json", *published.WEIGHT_FILES])
    return published.load_published(folder, target_model) if published.is_published(folder) else load_net(folder, target_model)


def build(target, config: Config, **_) -> MedusaDrafter:
    if not config.head:
        raise ValueError("medusa needs trained heads: pass --head FOLDER (train them with scripts/train/medusa.sh)")
    folder = fetch_head(config.head, ["config.json", *published.WEIGHT_FILES])
    net = place(load_heads(str(folder), target.model), target)
    return MedusaDrafter(net, config.policy(net.shape.num_heads, folder))
