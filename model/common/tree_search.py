"""Growing a draft tree level by level from a head's log-probabilities (EAGLE, Medusa, Hydra), on the device.

    pool = root's children; repeat: frontier = policy picks nodes to expand
                                     logps  = expand(pool, frontier, level)   # the method's one forward
                                     pool  += policy picks children of each frontier node
    draft = policy.select(pool), parents before children

The pool lives in tensors on the head's device and every level is one batched top-k: the host learns the
tree once, when `to_draft` reads the chosen tokens and parents back (one sync per step; a GPU keeps running
the draft levels while the host queues them). Only `min_path_prob` reads one count per level, to stop early.

StaticTree follows fixed rank paths (Medusa, EAGLE-1); DynamicTree grows the most probable nodes and keeps
the `total_tokens` most probable ones (EAGLE-2). Scores are path log-probabilities under the head. Drafts
carry no probabilities (top-k picks are deterministic), which speculative sampling treats as point masses:
lossless at any temperature.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from model.common.static_tree import RankPath, children_ranks, default_tree, head_tree, load_tree
from model.common.tree import Draft


@dataclass
class Pool:
    """Candidate nodes in the order they were added (parents before children), on the device.

    tokens: (P,) draft-vocabulary ids; parents: (P,) pool index of each node's parent, -1 under the pending
    token; scores: (P,) path log-probabilities; level_sizes: nodes added per level (host: shapes, not values).
    """

    tokens: torch.Tensor
    parents: torch.Tensor
    scores: torch.Tensor
    level_sizes: list[int]

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def level(self, depth: int) -> torch.Tensor:
        """Pool indices of the nodes at `depth` (the root's children are depth 1)."""
        start = sum(self.level_sizes[: depth - 1])
        return torch.arange(start, start + self.level_sizes[depth - 1], device=self.tokens.device)

    def add(self, tokens: torch.Tensor, parents: torch.Tensor, scores: torch.Tensor) -> None:
        self.tokens = torch.cat([self.tokens, tokens])
        self.parents = torch.cat([self.parents, parents])
        self.scores = torch.cat([self.scores, scores])
        self.level_sizes.append(tokens.shape[0])

    def path_tokens(self, nodes: torch.Tensor, depth: int) -> torch.Tensor:
        """(F, depth) draft ids from the root's child down to each of `nodes` (all at `depth`)."""
        columns, index = [], nodes
        for _ in range(depth):
            columns.append(self.tokens[index])
            index = self.parents[index].clamp(min=0)
        return torch.stack(columns[::-1], dim=1)

    @property
    def depths(self) -> torch.Tensor:
        return torch.cat([torch.full((n,), d + 1, device=self.tokens.device) for d, n in enumerate(self.level_sizes)])


class StaticTree:
    """Expand exactly the given rank paths; the tree's shape is known before any value is."""

    def __init__(self, paths: list[RankPath]):
        self.paths = sorted(paths, key=lambda path: (len(path), path))
        self.kids = children_ranks(self.paths)
        self.depth = max(len(p) for p in paths)
        # per level, in pool order: which nodes have children, and (frontier row, rank) of every child
        self.levels: list[list[RankPath]] = []
        level = [(r,) for r in self.kids.get((), [])]
        while level:
            self.levels.append(level)
            level = [node + (r,) for node in level for r in self.kids.get(node, [])]
        self._index: dict[tuple[torch.device, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _plan(self, depth: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For the children at `depth`: frontier indices within the level above, their rows and ranks. Built for
        every depth at once and sent to the device in one copy, the first time a device asks."""
        if (device, depth) not in self._index:
            lists, sizes = [], []
            for d in range(1, len(self.levels) + 1):
                above = self.levels[d - 2] if d > 1 else [()]
                frontier = [i for i, node in enumerate(above) if node in self.kids]
                rows = [j for j, i in enumerate(frontier) for _ in self.kids[above[i]]]
                ranks = [r for i in frontier for r in self.kids[above[i]]]
                lists += [frontier, rows, ranks]
                sizes += [len(frontier), len(rows), len(ranks)]
            parts = torch.tensor([x for part in lists for x in part], dtype=torch.long, device=device).split(sizes)
            for d in range(1, len(self.levels) + 1):
                self._index[(device, d)] = tuple(parts[3 * (d - 1): 3 * d])
        return self._index[(device, depth)]

    def root(self, logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, rows, ranks = self._plan(1, logp.device)
        values, ids = logp[None].topk(int(max(self.kids[()])) + 1, dim=-1)
        return ids[rows, ranks], values[rows, ranks]

    def frontier(self, pool: Pool, depth: int) -> torch.Tensor | None:
        if depth >= self.depth:
            return None
        frontier, _, _ = self._plan(depth + 1, pool.tokens.device)
        return pool.level(depth)[frontier]

    def children(self, pool: Pool, frontier: torch.Tensor, logp: torch.Tensor, depth: int) -> tuple[torch.Tensor, ...]:
        _, rows, ranks = self._plan(depth + 1, logp.device)
        widest = max(r for node in self.levels[depth - 1] if node in self.kids for r in self.kids[node]) + 1
        values, ids = logp.topk(widest, dim=-1)  # (F, R)
        return ids[rows, ranks], pool.scores[frontier][rows] + values[rows, ranks], frontier[rows]

    def select(self, pool: Pool) -> torch.Tensor:
        return torch.arange(len(pool), device=pool.tokens.device)


def check_min_path_prob(min_path_prob: float) -> None:
    """The cut-off of DynamicTree, checked where a method's options are read (eagle2, medusa, hydra)."""
    if not 0.0 <= min_path_prob < 1.0:
        raise ValueError(f"min_path_prob must be in [0, 1), got {min_path_prob}")


def _best_first(scores: torch.Tensor) -> torch.Tensor:
    """Indices by descending score, ties in index order (a parent before its equally scored child)."""
    return torch.sort(scores, descending=True, stable=True).indices


class DynamicTree:
    """Grow the top_k most probable nodes of each level, then rerank the whole pool by path probability.

    With min_path_prob > 0, only nodes whose path probability reaches it are grown, and the tree stops
    growing when none does: confident stretches (e.g. copied text) draft deep, uncertain ones save the
    draft forwards whose nodes would rarely be accepted (EAGLE-2 found the draft's path probability a
    good predictor of acceptance). That choice costs one read of a count per level."""

    def __init__(self, depth: int, top_k: int, total_tokens: int, min_path_prob: float = 0.0):
        self.depth, self.top_k, self.total_tokens = depth + 1, top_k, total_tokens  # depth counts expansions
        self.min_score = math.log(min_path_prob) if min_path_prob > 0 else -math.inf

    def root(self, logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, ids = logp.topk(min(self.top_k, logp.shape[-1]))
        return ids, values

    def frontier(self, pool: Pool, depth: int) -> torch.Tensor | None:
        if depth >= self.depth:
            return None
        candidates = pool.level(depth)
        best = candidates[_best_first(pool.scores[candidates])][: self.top_k]
        if self.min_score > -math.inf:
            confident = int((pool.scores[best] >= self.min_score).sum())  # the one read per level
            best = best[:confident]  # confident nodes outscore the rest, so they lead `best`
        return best if best.shape[0] else None

    def children(self, pool: Pool, frontier: torch.Tensor, logp: torch.Tensor, depth: int) -> tuple[torch.Tensor, ...]:
        values, ids = logp.topk(min(self.top_k, logp.shape[-1]), dim=-1)  # (F, K)
        k = ids.shape[1]
        return ids.flatten(), (pool.scores[frontier][:, None] + values).flatten(), frontier.repeat_interleave(k)

    def select(self, pool: Pool) -> torch.Tensor:
        # a child never scores above its parent and comes later in the pool, so the top set is a tree
        return _best_first(pool.scores)[: self.total_tokens].sort().values


Policy = StaticTree | DynamicTree
Expand = Callable[[Pool, torch.Tensor, int], torch.Tensor]  # (pool, frontier, depth) -> (F, K) log-probs


def grow(policy: Policy, root_logp: torch.Tensor, expand: Expand) -> tuple[Pool, torch.Tensor]:
    """The pool of candidate nodes and the indices the policy keeps (ascending: parents first)."""
    tokens, scores = policy.root(root_logp)
    pool = Pool(tokens, torch.full_like(tokens, -1), scores.float(), [tokens.shape[0]])
    for depth in range(1, policy.depth):
        frontier = policy.frontier(pool, depth)
        if frontier is None:
            break
        logps = expand(pool, frontier, depth)
        tokens, scores, parents = policy.children(pool, frontier, logps, depth)
        pool.add(tokens, parents, scores.float())
    return pool, policy.select(pool)


def to_draft(pool: Pool, chosen: torch.Tensor, to_target: Callable[[torch.Tensor], torch.Tensor]) -> Draft:
    """The chosen nodes as a Draft in target ids: the step's one device-to-host read of the tree."""
    new_index = torch.full((len(pool),), -1, dtype=torch.long, device=chosen.device)
    new_index[chosen] = torch.arange(chosen.shape[0], device=chosen.device)
    parents = pool.parents[chosen]
    parents = torch.where(parents >= 0, new_index[parents.clamp(min=0)], -1)
    tokens, parents = torch.stack([to_target(pool.tokens[chosen]), parents]).tolist()
    return Draft(tokens, parents)


@dataclass(frozen=True)
class TreeHeadConfig:
    """Options of the methods whose heads draft one level per head (medusa, hydra): a static tree of rank
    paths, or with --dynamic EAGLE-2's confidence-ranked tree, one level per head."""

    head: str = ""  # folder of trained heads (train/tasks/<method>.py)
    tree: str = ""  # JSON list of rank paths (python -m evaluation.calibrate_tree writes one); empty: the head folder's
    # tree.json if it ships one (weights/), else the default tree
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

    def policy(self, heads: int, folder: Path | None = None) -> Policy:
        """The tree policy for `heads` heads (one tree level each) loaded from `folder`."""
        if self.dynamic:
            return DynamicTree(heads - 1, self.top_k, self.total_tokens, self.min_path_prob)
        tree = self.tree or (folder and head_tree(folder))
        return StaticTree(load_tree(tree) if tree else default_tree(self.total_tokens, heads, self.top_k))
