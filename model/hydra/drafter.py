"""`hydra`: sequentially dependent heads grow a tree level by level (a static one, or with --dynamic
EAGLE-2's confidence-ranked one).

Level d's nodes are expanded together by head d+1, each reading the feature behind the pending
token and the embeddings of the pending token and its own path; one small MLP pass per level.
With context layers (Hydra++) that feature is their output, and their KV cache is extended with the
committed positions' target features after every step (drafted nodes never enter it), each beside
the token that followed it if the head reads one (`context_next_token`).
"""
from __future__ import annotations

import torch
from transformers import DynamicCache

from model.common.heads import place
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft
from model.common.tree_search import Node, Policy, TreeHeadConfig, grow, path_tokens, to_draft
from model.hydra.net import HydraNet, load_net
from model.medusa.drafter import MedusaDrafter


Config = TreeHeadConfig


class HydraDrafter(MedusaDrafter):  # Medusa's tree bookkeeping; the heads read the path (and the context) too
    label = "Hydra"

    def __init__(self, net: HydraNet, policy: Policy):
        super().__init__(net, policy)
        self.cache = DynamicCache()  # the context layers' (Hydra++), over committed positions only

    def reset(self, state: DecodeState) -> None:
        self.cache = DynamicCache()
        self.feature = self._contextualize(state.hidden[self.hidden_layers[0]], state.tokens[1 : state.cached_len + 1], 0)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        features = verdict.hidden[self.hidden_layers[0]]  # the old pending token and the accepted nodes
        start = state.cached_len - len(features)
        self.feature = self._contextualize(features, state.tokens[start + 1 :], start)

    @torch.inference_mode()
    def _contextualize(self, features: torch.Tensor, next_tokens: list[int], start: int) -> torch.Tensor:
        """Feed positions start.. (features[j], followed by next_tokens[j]; the last is the pending token) to the
        context layers; the heads' feature for the newest one."""
        if self.net.context is None:
            return features[-1]
        device = self.net.param_like().device
        positions = torch.arange(start, start + len(features), device=device)[None]
        next_ids = torch.tensor(next_tokens, device=device)[None] if self.net.context_fc is not None else None
        return self.net.contextualize(features[None].to(device), position_ids=positions, cache=self.cache,
                                      next_ids=next_ids)[0, -1]

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
    return HydraDrafter(net, config.policy(net.shape.num_heads))
