"""Static draft trees as lists of rank paths, and the builder that picks the best tree for a budget.

A rank path (0, 2, 1) is the node reached by taking the drafter's top-1 token at depth 1, its
3rd-ranked token at depth 2 and its 2nd-ranked token at depth 3. Medusa and EAGLE-1 verify a
fixed set of such paths every step.

`best_tree` keeps the `total` paths with the highest chance of being accepted, given per depth the
probability that the rank-r candidate is the right token when its parent was: the value of a path
is the product along it, which never grows with depth, so best-first search yields a tree whose
every node's parent is also in it. Feed it accuracies measured on held-apart data, or the default
prior (about what trained heads reach).
"""
from __future__ import annotations

import heapq
import json
from pathlib import Path

RankPath = tuple[int, ...]

# P(rank r is the accepted token | its parent was), the same at every depth; roughly what trained heads reach
DEFAULT_RANK_PRIOR = (0.55, 0.12, 0.05, 0.03, 0.02, 0.015, 0.01, 0.008, 0.006, 0.005)


def best_tree(rank_accuracy: list[list[float]] | list[tuple[float, ...]], total: int) -> list[RankPath]:
    """The `total` most valuable rank paths; rank_accuracy[d][r] is for depth d + 1. Sorted by depth, then path."""
    if total < 1:
        raise ValueError(f"a tree needs at least one node, got total={total}")
    if not rank_accuracy or any(not row for row in rank_accuracy):
        raise ValueError("rank_accuracy needs at least one rank per depth")
    heap: list[tuple[float, RankPath]] = [(-p, (r,)) for r, p in enumerate(rank_accuracy[0])]
    heapq.heapify(heap)
    chosen: list[RankPath] = []
    while heap and len(chosen) < total:
        value, path = heapq.heappop(heap)
        chosen.append(path)
        if len(path) < len(rank_accuracy):
            for r, p in enumerate(rank_accuracy[len(path)]):
                heapq.heappush(heap, (value * p, path + (r,)))  # value is negative: -(product)
    return sorted(chosen, key=lambda path: (len(path), path))


def default_tree(total: int, depth: int, top_k: int) -> list[RankPath]:
    """A tree of `total` nodes from the default prior, at most `depth` deep and `top_k` wide per node."""
    prior = list(DEFAULT_RANK_PRIOR[:top_k])
    return best_tree([prior] * depth, total)


def check_tree(paths: list[RankPath]) -> list[RankPath]:
    """Validate (every prefix present, no duplicates, ranks >= 0) and sort by depth, then path."""
    seen = set()
    for path in paths:
        if not path or any(r < 0 for r in path):
            raise ValueError(f"tree path {path!r}: ranks must be non-negative and the path non-empty")
        if path in seen:
            raise ValueError(f"tree path {path!r} appears twice")
        seen.add(path)
    for path in paths:
        if len(path) > 1 and path[:-1] not in seen:
            raise ValueError(f"tree path {path!r} has no parent {path[:-1]!r} in the tree")
    return sorted(seen, key=lambda path: (len(path), path))


def head_tree(folder: str | Path) -> Path | None:
    """The tree a head folder ships with (`tree.json`, calibrated for it, as in weights/), used when --tree is empty."""
    path = Path(folder, "tree.json")
    return path if path.exists() else None


def load_tree(path: str | Path) -> list[RankPath]:
    """A tree from a JSON list of rank lists, e.g. [[0], [1], [0, 0]] (the format Medusa and EAGLE publish)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, list) or not all(isinstance(p, list) and all(isinstance(r, int) for r in p) for p in data):
        raise ValueError(f"{path}: expected a JSON list of lists of integer ranks")
    return check_tree([tuple(p) for p in data])


def children_ranks(paths: list[RankPath]) -> dict[RankPath, list[int]]:
    """For every path that has children in the tree (the root is ()), the ranks of those children."""
    kids: dict[RankPath, list[int]] = {}
    for path in paths:
        kids.setdefault(path[:-1], []).append(path[-1])
    return {parent: sorted(ranks) for parent, ranks in kids.items()}
