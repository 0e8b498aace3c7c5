"""EAGLE drafting: grow a token tree level by level with the draft net, one net forward per level.

The net's KV cache mirrors the target's: it holds net positions 0..m-1 when the target caches m
positions, where net position i read (f_i, x_{i+1}); its last output predicts the children of the
pending token. A level feeds every node to expand at once (positions m-1+depth, a 4-D mask so each
node sees the committed context, its ancestors and itself), then the drafted entries are cut off
again. After verification the accepted tokens are fed with the target's real features.

Which nodes grow is the policy's choice (model/common/tree_search.py): a static tree of rank paths
(EAGLE-1) or the dynamic, confidence-ranked tree (EAGLE-2).
"""
from __future__ import annotations

import torch
from transformers import DynamicCache

from model.common.state import DecodeState, Verdict
from model.common.target import truncate_cache
from model.common.tree import Draft
from model.common.tree_search import Node, Policy, grow, to_draft
from model.eagle.net import EagleNet
from model.eagle.net3 import Eagle3Net


class EagleDrafter:
    def __init__(self, net: EagleNet | Eagle3Net, policy: Policy):
        self.net = net.eval()
        self.policy = policy
        self.hidden_layers = net.feature_layers
        self.device = net.param_like().device
        self.cache = DynamicCache()
        self.root_feature = torch.empty(0)
        self.root_logp = torch.empty(0)

    def _taps(self, hidden: dict[int, torch.Tensor]) -> torch.Tensor:
        """The target features the net reads, side by side: (T, H), or (T, 3H) for EAGLE-3's fused layers."""
        return torch.cat([hidden[layer] for layer in self.hidden_layers], dim=-1)

    def _cache_len(self) -> int:
        return self.cache.get_seq_length() if self.cache.layers else 0

    @torch.inference_mode()
    def _feed(self, features: torch.Tensor, next_tokens: list[int], start: int) -> None:
        """Net positions start..start+n-1 read (features[j], next_tokens[j]); the last output drafts the next root."""
        if self._cache_len() != start:
            raise RuntimeError(f"EAGLE cache holds {self._cache_len()} positions, expected {start}")
        ids = torch.tensor(next_tokens, device=self.device)
        positions = torch.arange(start, start + len(next_tokens), device=self.device)
        out = self.net(features[None].to(self.device), self.net.embed_tokens(ids)[None], positions[None], None, self.cache)
        self.root_feature = out[0, -1]
        self.root_logp = torch.log_softmax(self.net.logits(self.root_feature).float(), dim=-1)

    def reset(self, state: DecodeState) -> None:
        self.cache = DynamicCache()
        m = state.cached_len
        self._feed(self._taps(state.hidden), state.tokens[1 : m + 1], 0)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        features = self._taps(verdict.hidden)  # (a+1, H or 3H): the old pending token and the accepted nodes
        m = state.cached_len - len(features)
        self._feed(features, state.tokens[m + 1 :], m)

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        m = state.cached_len
        pool, chosen = grow(self.policy, self.root_logp, lambda pool, frontier, level: self._expand(pool, frontier, m, level))
        truncate_cache(self.cache, m)
        return to_draft(pool, chosen, self.net.to_target)

    def _expand(self, pool: list[Node], frontier: list[int], m: int, level: int) -> torch.Tensor:
        """One net forward over the frontier nodes (all at depth `level`); returns their children's log-probs (F, K)."""
        first_slot = self._cache_len()
        nodes = [pool[i] for i in frontier]
        for j, node in enumerate(nodes):  # net-cache rows of each node and its ancestors
            node.extra["slots"] = (pool[node.parent].extra["slots"] if node.parent >= 0 else []) + [first_slot + j]
        features = torch.stack([pool[n.parent].extra["feature"] if n.parent >= 0 else self.root_feature for n in nodes])  # (F, H)
        ids = self.net.to_target(torch.tensor([n.token for n in nodes], device=self.device))
        visible = torch.zeros(len(nodes), first_slot + len(nodes), dtype=torch.bool, device=self.device)  # (F, K)
        visible[:, :m] = True
        for j, node in enumerate(nodes):
            visible[j, node.extra["slots"]] = True
        dtype = self.net.fc.weight.dtype
        mask = torch.zeros(visible.shape, dtype=dtype, device=self.device).masked_fill_(~visible, torch.finfo(dtype).min)
        positions = torch.full((1, len(nodes)), m - 1 + level, device=self.device)
        out = self.net(features[None], self.net.embed_tokens(ids)[None], positions, mask[None, None], self.cache)[0]  # (F, H)
        for j, node in enumerate(nodes):
            node.extra["feature"] = out[j]
        return torch.log_softmax(self.net.logits(out).float(), dim=-1)
