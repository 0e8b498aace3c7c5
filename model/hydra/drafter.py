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

from model.common.heads import local_head, place
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft
from model.common.tree_search import Policy, Pool, TreeHeadConfig, grow, to_draft
from model.hydra.net import HydraNet, load_net
from model.medusa.drafter import MedusaDrafter


Config = TreeHeadConfig


class HydraDrafter(MedusaDrafter):  # Medusa's tree bookkeeping; the heads read the path (and the context) too
    label = "Hydra"

    def __init__(self, net: HydraNet, policy: Policy):
        super().__init__(net, policy)
        self.device = net.param_like().device
        self.cache = DynamicCache()  # the context layers' (Hydra++), over committed positions only
        self.pending = torch.empty(0, dtype=torch.long)  # (1,) the pending token, on the device

    def reset(self, state: DecodeState) -> None:
        self.cache = DynamicCache()
        next_tokens = torch.tensor(state.tokens[1 : state.cached_len + 1], device=self.device)
        self.pending = next_tokens[-1:]
        self.feature = self._contextualize(state.hidden[self.hidden_layers[0]], next_tokens, 0)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        features = verdict.hidden[self.hidden_layers[0]]  # the old pending token and the accepted nodes
        start = state.cached_len - len(features)
        next_tokens = verdict.token_ids.to(self.device)  # the accepted tokens and the bonus: the new pending token
        self.pending = next_tokens[-1:]
        self.feature = self._contextualize(features, next_tokens, start)

    @torch.inference_mode()
    def _contextualize(self, features: torch.Tensor, next_tokens: torch.Tensor, start: int) -> torch.Tensor:
        """Feed positions start.. (features[j], followed by next_tokens[j]; the last is the pending token) to the
        context layers; the heads' feature for the newest one."""
        if self.net.context is None:
            return features[-1].to(self.device)
        positions = torch.arange(start, start + len(features), device=self.device)[None]
        next_ids = next_tokens[None] if self.net.context_fc is not None else None
        return self.net.contextualize(features[None].to(self.device), position_ids=positions, cache=self.cache,
                                      next_ids=next_ids)[0, -1]

    def _logp(self, prefixes: torch.Tensor) -> torch.Tensor:
        """Target-id prefixes (F, k) starting with the pending token -> head k's log-probs (F, V')."""
        embeds = self.net.embed_tokens(prefixes)  # (F, k, H)
        features = self.feature.to(embeds.device).expand(len(prefixes), -1)
        return torch.log_softmax(self.net.logits(self.net.head_feature(features, embeds)).float(), dim=-1)

    def _expand(self, pool: Pool, frontier: torch.Tensor, depth: int) -> torch.Tensor:
        paths = self.net.to_target(pool.path_tokens(frontier, depth))  # (F, depth) target ids
        return self._logp(torch.cat([self.pending.expand(paths.shape[0], 1), paths], dim=1))

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        root = self._logp(self.pending[None])[0]
        pool, chosen = grow(self.policy, root, self._expand)
        return to_draft(pool, chosen, self.net.to_target)


def build(target, config: Config, **_) -> HydraDrafter:
    if not config.head:
        raise ValueError("hydra needs trained heads: pass --head FOLDER (train them with scripts/train/hydra.sh)")
    folder = local_head(config.head)
    net = place(load_net(folder, target.model), target)
    return HydraDrafter(net, config.policy(net.shape.num_heads, folder))
