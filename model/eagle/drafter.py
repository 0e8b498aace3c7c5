"""EAGLE drafting: grow a token tree level by level with the draft net, one net forward per level.

The net's KV cache mirrors the target's: it holds net positions 0..m-1 when the target caches m
positions, where net position i read (f_i, x_{i+1}); its last output predicts the children of the
pending token. A level feeds every node to expand at once (positions m-1+depth, a 4-D mask so each
node sees the committed context, its ancestors and itself), then the drafted entries are cut off
again. After verification the accepted tokens are fed with the target's real features.

Which nodes grow is the policy's choice:
  StaticTree (EAGLE-1): a fixed set of rank paths.
  DynamicTree (EAGLE-2): expand the top_k most probable nodes of each level (probability = product
      of draft probabilities along the path), then keep the total_tokens most probable nodes.
Drafts carry no probabilities (top-k picks are deterministic), which speculative sampling treats
as point masses: lossless at any temperature.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from model.common.state import DecodeState, Verdict
from model.common.static_tree import RankPath, children_ranks
from model.common.target import truncate_cache
from model.common.tree import Draft
from model.eagle.net import EagleNet


@dataclass
class Node:
    token: int  # draft-vocabulary id
    parent: int  # pool index, -1 for the pending token
    score: float  # log-probability of the path under the draft net
    path: RankPath
    feature: torch.Tensor | None = None  # net output when this node was expanded
    slots: list[int] = field(default_factory=list)  # net-cache rows of this node and its ancestors


class StaticTree:
    """EAGLE-1: expand exactly the given rank paths."""

    def __init__(self, paths: list[RankPath]):
        self.kids = children_ranks(paths)
        self.depth = max(len(p) for p in paths)

    def children(self, node: Node | None, logp: torch.Tensor) -> list[tuple[int, float, int]]:
        ranks = self.kids.get(node.path if node else (), [])
        if not ranks:
            return []
        values, ids = logp.topk(max(ranks) + 1)
        return [(int(ids[r]), float(values[r]), r) for r in ranks]

    def frontier(self, candidates: list[int], pool: list[Node]) -> list[int]:
        return [i for i in candidates if pool[i].path in self.kids]

    def select(self, pool: list[Node]) -> list[int]:
        return list(range(len(pool)))


class DynamicTree:
    """EAGLE-2: grow the most probable nodes, then rerank the whole pool by path probability."""

    def __init__(self, depth: int, top_k: int, total_tokens: int):
        self.depth, self.top_k, self.total_tokens = depth + 1, top_k, total_tokens  # depth counts expansions

    def children(self, node: Node | None, logp: torch.Tensor) -> list[tuple[int, float, int]]:
        values, ids = logp.topk(self.top_k)
        return [(int(t), float(v), r) for r, (t, v) in enumerate(zip(ids.tolist(), values.tolist()))]

    def frontier(self, candidates: list[int], pool: list[Node]) -> list[int]:
        return sorted(candidates, key=lambda i: (-pool[i].score, i))[: self.top_k]

    def select(self, pool: list[Node]) -> list[int]:
        # a child never scores above its parent and comes later in the pool, so the top set is a tree
        best = sorted(range(len(pool)), key=lambda i: (-pool[i].score, i))[: self.total_tokens]
        return sorted(best)


class EagleDrafter:
    def __init__(self, net: EagleNet, policy: StaticTree | DynamicTree):
        self.net = net.eval()
        self.policy = policy
        self.hidden_layers = (net.shape.feature_layer,)
        self.device = net.fc.weight.device
        self.cache = DynamicCache()
        self.root_feature = torch.empty(0)
        self.root_logp = torch.empty(0)

    def _to_target(self, draft_ids: torch.Tensor) -> torch.Tensor:
        vocab = self.net.vocab
        return draft_ids if vocab is None else vocab.to_target.to(draft_ids.device)[draft_ids]

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
        self._feed(state.hidden[self.hidden_layers[0]], state.tokens[1 : m + 1], 0)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        features = verdict.hidden[self.hidden_layers[0]]  # (a+1, H): the old pending token and the accepted nodes
        m = state.cached_len - len(features)
        self._feed(features, state.tokens[m + 1 :], m)

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        m = state.cached_len
        pool: list[Node] = []
        candidates = self._add_children(pool, None, -1, self.root_logp)
        for level in range(1, self.policy.depth):
            frontier = self.policy.frontier(candidates, pool)
            if not frontier:
                break
            logps = self._expand(pool, frontier, m, level)
            candidates = [c for j, i in enumerate(frontier) for c in self._add_children(pool, pool[i], i, logps[j])]
        truncate_cache(self.cache, m)
        chosen = self.policy.select(pool)
        new_index = {old: new for new, old in enumerate(chosen)}
        tokens = self._to_target(torch.tensor([pool[i].token for i in chosen], dtype=torch.long)).tolist()
        parents = [new_index[pool[i].parent] if pool[i].parent >= 0 else -1 for i in chosen]
        return Draft(tokens, parents)

    def _add_children(self, pool: list[Node], node: Node | None, index: int, logp: torch.Tensor) -> list[int]:
        base = node.score if node else 0.0
        path = node.path if node else ()
        added = []
        for token, value, rank in self.policy.children(node, logp):
            pool.append(Node(token, index, base + value, path + (rank,)))
            added.append(len(pool) - 1)
        return added

    def _expand(self, pool: list[Node], frontier: list[int], m: int, level: int) -> torch.Tensor:
        """One net forward over the frontier nodes (all at depth `level`); returns their children's log-probs (F, K)."""
        first_slot = self._cache_len()
        nodes = [pool[i] for i in frontier]
        for j, node in enumerate(nodes):
            node.slots = (pool[node.parent].slots if node.parent >= 0 else []) + [first_slot + j]
        features = torch.stack([pool[n.parent].feature if n.parent >= 0 else self.root_feature for n in nodes])  # (F, H)
        ids = self._to_target(torch.tensor([n.token for n in nodes], device=self.device))
        visible = torch.zeros(len(nodes), first_slot + len(nodes), dtype=torch.bool, device=self.device)  # (F, K)
        visible[:, :m] = True
        for j, node in enumerate(nodes):
            visible[j, node.slots] = True
        dtype = self.net.fc.weight.dtype
        mask = torch.zeros(visible.shape, dtype=dtype, device=self.device).masked_fill_(~visible, torch.finfo(dtype).min)
        positions = torch.full((1, len(nodes)), m - 1 + level, device=self.device)
        out = self.net(features[None], self.net.embed_tokens(ids)[None], positions, mask[None, None], self.cache)[0]  # (F, H)
        for j, node in enumerate(nodes):
            node.feature = out[j]
        return torch.log_softmax(self.net.logits(out).float(), dim=-1)
