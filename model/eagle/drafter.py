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
from model.common.tree_search import Policy, Pool, grow, to_draft
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
        # per propose: the net's output feature of every expanded node, which expanded row each pool node is
        # (-1: not expanded), and which expanded rows each expanded row sees (its ancestors and itself)
        self._features = torch.empty(0)
        self._row_of = torch.empty(0)
        self._sees = torch.empty(0)

    def _taps(self, hidden: dict[int, torch.Tensor]) -> torch.Tensor:
        """The target features the net reads, side by side, on the net's device: (T, H), or (T, 3H) for EAGLE-3's
        fused layers (under a device map they come from layers on different GPUs)."""
        return torch.cat([hidden[layer].to(self.device) for layer in self.hidden_layers], dim=-1)

    def _cache_len(self) -> int:
        return self.cache.get_seq_length() if self.cache.layers else 0

    @torch.inference_mode()
    def _feed(self, features: torch.Tensor, next_tokens: torch.Tensor, start: int) -> None:
        """Net positions start..start+n-1 read (features[j], next_tokens[j]); the last output drafts the next root."""
        if self._cache_len() != start:
            raise RuntimeError(f"EAGLE cache holds {self._cache_len()} positions, expected {start}")
        positions = torch.arange(start, start + next_tokens.shape[0], device=self.device)
        embeds = self.net.embed_tokens(next_tokens.to(self.device))
        out = self.net(features[None], embeds[None], positions[None], None, self.cache)
        self.root_feature = out[0, -1]
        self.root_logp = torch.log_softmax(self.net.logits(self.root_feature).float(), dim=-1)

    def reset(self, state: DecodeState) -> None:
        self.cache = DynamicCache()
        m = state.cached_len
        self._feed(self._taps(state.hidden), torch.tensor(state.tokens[1 : m + 1], device=self.device), 0)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        features = self._taps(verdict.hidden)  # (a+1, H or 3H): the old pending token and the accepted nodes
        m = state.cached_len - len(features)
        self._feed(features, verdict.token_ids, m)  # each feature's next token: the accepted ones and the bonus

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        m = state.cached_len
        self._features = self.root_feature.new_empty(0, self.root_feature.shape[-1])
        self._row_of = torch.empty(0, dtype=torch.long, device=self.device)
        self._sees = torch.empty(0, 0, dtype=torch.bool, device=self.device)
        pool, chosen = grow(self.policy, self.root_logp, lambda pool, frontier, depth: self._expand(pool, frontier, m, depth))
        truncate_cache(self.cache, m)
        return to_draft(pool, chosen, self.net.to_target)

    def _expand(self, pool: Pool, frontier: torch.Tensor, m: int, depth: int) -> torch.Tensor:
        """One net forward over the frontier nodes (all at `depth`); returns their children's log-probs (F, K).

        Each node reads its parent's output feature and its own token, at position m-1+depth, and sees the
        committed context, the drafted rows of its ancestors and itself (a 4-D mask over the net's cache)."""
        f, e = frontier.shape[0], self._features.shape[0]  # new rows, rows expanded so far
        if depth == 1:  # the root's children read the root's feature and see no drafted row
            features = self.root_feature.expand(f, -1)
            sees = torch.zeros(f, e, dtype=torch.bool, device=self.device)
        else:
            parent_row = self._row_of[pool.parents[frontier]]
            features, sees = self._features[parent_row], self._sees[parent_row]
        own = torch.eye(f, dtype=torch.bool, device=self.device)
        self._sees = torch.cat([torch.cat([self._sees, self._sees.new_zeros(e, f)], dim=1),
                                torch.cat([sees, own], dim=1)])  # (e+f, e+f)
        visible = torch.cat([torch.ones(f, m, dtype=torch.bool, device=self.device), self._sees[e:]], dim=1)  # (F, m+e+f)
        dtype = self.net.fc.weight.dtype
        mask = torch.zeros(visible.shape, dtype=dtype, device=self.device).masked_fill_(~visible, torch.finfo(dtype).min)
        positions = torch.full((1, f), m - 1 + depth, device=self.device)
        ids = self.net.to_target(pool.tokens[frontier])
        out = self.net(features[None], self.net.embed_tokens(ids)[None], positions, mask[None, None], self.cache)[0]  # (F, H)
        self._features = torch.cat([self._features, out])
        row_of = torch.full((len(pool),), -1, dtype=torch.long, device=self.device)
        row_of[: self._row_of.shape[0]] = self._row_of
        row_of[frontier] = torch.arange(e, e + f, device=self.device)
        self._row_of = row_of
        return torch.log_softmax(self.net.logits(out).float(), dim=-1)
