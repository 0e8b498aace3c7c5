"""Growing a draft tree level by level from a head's log-probabilities (EAGLE, Medusa, Hydra).

    pool = root's children; repeat: frontier = policy picks nodes to expand
                                     logps  = expand(frontier, level)   # the method's one forward
                                     pool  += policy picks children of each frontier node
    draft = policy.select(pool), parents before children

StaticTree follows fixed rank paths (Medusa, EAGLE-1); DynamicTree grows the most probable nodes
and keeps the `total_tokens` most probable ones (EAGLE-2). Scores are path log-probabilities under
the head. Drafts carry no probabilities (top-k picks are deterministic), which speculative
sampling treats as point masses: lossless at any temperature.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from model.common.static_tree import RankPath, children_ranks, default_tree, load_tree
from model.common.tree import Draft


@dataclass
class Node:
    token: int  # draft-vocabulary id
    parent: int  # pool index, -1 for the pending token
    score: float  # log-probability of the path under the head
    path: RankPath
    extra: dict[str, Any] = field(default_factory=dict)  # what the method keeps per expanded node


class StaticTree:
    """Expand exactly the given rank paths."""

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


def check_min_path_prob(min_path_prob: float) -> None:
    """The cut-off of DynamicTree, checked where a method's options are read (eagle2, medusa, hydra)."""
    if not 0.0 <= min_path_prob < 1.0:
        raise ValueError(f"min_path_prob must be in [0, 1), got {min_path_prob}")


class DynamicTree:
    """Grow the top_k most probable nodes of each level, then rerank the whole pool by path probability.

    With min_path_prob > 0, only nodes whose path probability reaches it are grown, and the tree stops
    growing when none does: confident stretches (e.g. copied text) draft deep, uncertain ones save the
    draft forwards whose nodes would rarely be accepted (EAGLE-2 found the draft's path probability a
    good predictor of acceptance)."""

    def __init__(self, depth: int, top_k: int, total_tokens: int, min_path_prob: float = 0.0):
        self.depth, self.top_k, self.total_tokens = depth + 1, top_k, total_tokens  # depth counts expansions
        self.min_score = math.log(min_path_prob) if min_path_prob > 0 else -math.inf

    def children(self, node: Node | None, logp: torch.Tensor) -> list[tuple[int, float, int]]:
        values, ids = logp.topk(self.top_k)
        return [(int(t), float(v), r) for r, (t, v) in enumerate(zip(ids.tolist(), values.tolist()))]

    def frontier(self, candidates: list[int], pool: list[Node]) -> list[int]:
        confident = [i for i in candidates if pool[i].score >= self.min_score]
        return sorted(confident, key=lambda i: (-pool[i].score, i))[: self.top_k]

    def select(self, pool: list[Node]) -> list[int]:
        # a child never scores above its parent and comes later in the pool, so the top set is a tree
        best = sorted(range(len(pool)), key=lambda i: (-pool[i].score, i))[: self.total_tokens]
        return sorted(best)


Policy = StaticTree | DynamicTree
Expand = Callable[[list[Node], list[int], int], torch.Tensor]  # (pool, frontier, level) -> (F, K) log-probs


def grow(policy: Policy, root_logp: torch.Tensor, expand: Expand) -> tuple[list[Node], list[int]]:
    """The pool of candidate nodes and the indices the policy keeps (ascending: parents first)."""
    pool: list[Node] = []
    candidates = add_children(policy, pool, -1, root_logp)
    for level in range(1, policy.depth):
        frontier = policy.frontier(candidates, pool)
        if not frontier:
            break
        logps = expand(pool, frontier, level)
        candidates = [c for j, i in enumerate(frontier) for c in add_children(policy, pool, i, logps[j])]
    return pool, policy.select(pool)


def add_children(policy: Policy, pool: list[Node], index: int, logp: torch.Tensor) -> list[int]:
    node = pool[index] if index >= 0 else None
    base, path = (node.score, node.path) if node else (0.0, ())
    added = []
    for token, value, rank in policy.children(node, logp):
        pool.append(Node(token, index, base + value, path + (rank,)))
        added.append(len(pool) - 1)
    return added


def to_draft(pool: list[Node], chosen: list[int], to_target: Callable[[torch.Tensor], torch.Tensor]) -> Draft:
    new_index = {old: new for new, old in enumerate(chosen)}
    tokens = to_target(torch.tensor([pool[i].token for i in chosen], dtype=torch.long)).tolist()
    parents = [new_index[pool[i].parent] if pool[i].parent >= 0 else -1 for i in chosen]
    return Draft(tokens, parents)


def path_tokens(pool: list[Node], index: int) -> list[int]:
    """Draft ids from the root's child down to node `index`."""
    tokens = []
    while index >= 0:
        tokens.append(pool[index].token)
        index = pool[index].parent
    return tokens[::-1]


@dataclass(frozen=True)
class TreeHeadConfig:
    """Options of the methods whose heads draft one level per head (medusa, hydra): a static tree of rank
    paths, or with --dynamic EAGLE-2's confidence-ranked tree, one level per head."""

    head: str = ""  # folder of trained heads (train/tasks/<method>.py)
    tree: str = ""  # JSON list of rank paths (python -m evaluation.calibrate_tree writes one); empty: the default tree
    total_tokens: int = 60  # nodes of the default tree; with --dynamic, nodes kept after reranking
    top_k: int = 10  # widest branching of the default tree; with --dynamic, nodes grown per level and children each
    dynamic: bool = False  # grow the tree from the heads' confidence each step instead of a fixed shape
    min_path_prob: float = 0.0  # with --dynamic: grow only nodes whose draft path probability reaches this

    def __post_init__(self) -> None:
        if self.total_tokens < 1 or self.top_k < 1:
            raise ValueError(f"need total_tokens >= 1 and top_k >= 1, got {self.total_tokens}, {self.top_k}")
        check_min_path_prob(self.min_path_prob)
        if self.dynamic and self.tree:
            raise ValueError("--dynamic grows its own tree: drop --tree")

    def policy(self, heads: int) -> Policy:
        """The tree policy for `heads` heads (one tree level each)."""
        if self.dynamic:
            return DynamicTree(heads - 1, self.top_k, self.total_tokens, self.min_path_prob)
        return StaticTree(load_tree(self.tree) if self.tree else default_tree(self.total_tokens, heads, self.top_k))
