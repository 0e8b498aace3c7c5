"""Draft trees: nodes with parents -> depths, ancestor masks, attention masks, root-to-leaf paths.

A draft of N nodes is ``tokens[N]`` plus ``parents[N]`` where parent -1 is the last committed token
(the "root", which the verifier feeds first). A chain is parents ``-1, 0, 1, ...``. Parents must
come before their children, so one pass in node order resolves depths and ancestors.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Draft:
    """What a drafter proposes for one step.

    probs: per node, the draft distribution the token was sampled from (V,) or None when the
    drafter picked it deterministically (argmax, top-k, n-gram lookup). Speculative sampling
    treats a None as a point mass, which keeps it lossless.
    """

    tokens: list[int]
    parents: list[int]
    probs: list[torch.Tensor | None] | None = None

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.parents):
            raise ValueError(f"draft has {len(self.tokens)} tokens but {len(self.parents)} parents")
        for i, p in enumerate(self.parents):
            if not -1 <= p < i:
                raise ValueError(f"node {i} has parent {p}: parents must precede their children")

    @classmethod
    def chain(cls, tokens: list[int], probs: list[torch.Tensor | None] | None = None) -> Draft:
        return cls(list(tokens), list(range(-1, len(tokens) - 1)), probs)

    @classmethod
    def empty(cls) -> Draft:
        return cls([], [])

    def __len__(self) -> int:
        return len(self.tokens)

    def is_chain(self) -> bool:
        return all(p == i - 1 for i, p in enumerate(self.parents))

    def prob(self, node: int) -> torch.Tensor | None:
        return None if self.probs is None else self.probs[node]

    def children(self) -> list[list[int]]:
        """children()[p + 1] lists the nodes whose parent is p (index 0 is the root)."""
        kids: list[list[int]] = [[] for _ in range(len(self) + 1)]
        for i, p in enumerate(self.parents):
            kids[p + 1].append(i)
        return kids

    @property
    def depth(self) -> int:
        """How deep the draft reaches (0 for no draft): the most draft tokens one step could accept."""
        if self.is_chain():
            return len(self.tokens)
        return max(self.depths(), default=0)

    def depths(self) -> list[int]:
        """Depth of each node; the root's children have depth 1."""
        depth: list[int] = []
        for p in self.parents:
            depth.append(1 if p < 0 else depth[p] + 1)
        return depth


def ancestor_matrix(parents: list[int]) -> torch.Tensor:
    """(N+1, N+1) bool: row r sees column c iff c is r itself or an ancestor of r; index 0 is the root."""
    n = len(parents) + 1
    seen = torch.zeros(n, n, dtype=torch.bool)
    seen[0, 0] = True
    for i, p in enumerate(parents):
        seen[i + 1] = seen[p + 1]
        seen[i + 1, i + 1] = True
    return seen


def ancestors(parents: torch.Tensor, depth: int) -> torch.Tensor:
    """On the parents' device, without reading them back: (N+1, N+1) bool, row r sees column c iff c is r itself
    or an ancestor of r (index 0 is the root). `depth` (the deepest node's depth, known to the drafter) bounds
    how many times each row inherits its parent's row."""
    n = parents.shape[0] + 1
    parent_row = torch.cat([parents.new_zeros(1), parents + 1])  # the root is its own parent
    seen = torch.eye(n, dtype=torch.bool, device=parents.device)
    for _ in range(depth):
        seen = seen | seen[parent_row]
    return seen


def path_to(parents: list[int], node: int) -> list[int]:
    """Node indices from the root's child down to ``node`` (empty for the root, node -1)."""
    path = []
    while node >= 0:
        path.append(node)
        node = parents[node]
    return path[::-1]


def leaf_paths(parents: list[int]) -> list[list[int]]:
    """Every root-to-leaf path, in node order of the leaves."""
    has_child = {p for p in parents if p >= 0}
    return [path_to(parents, i) for i in range(len(parents)) if i not in has_child]


def block_attention(
    prefix_len: int,
    positions: torch.Tensor,
    seen: torch.Tensor,
    window: int | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Additive mask (1, 1, T, prefix_len + T) for a block of T new tokens after prefix_len cached ones.

    Cached entry j sits at position j; new token t at positions[t] and sees the new tokens marked in
    seen[t]. With a sliding window, a query at position q only sees keys at positions > q - window.
    """
    t = positions.shape[0]
    key_pos = torch.cat([torch.arange(prefix_len, device=positions.device), positions])  # (K,)
    visible = torch.cat([torch.ones(t, prefix_len, dtype=torch.bool, device=positions.device), seen], dim=1)  # (T, K)
    if window is not None:
        visible &= key_pos[None, :] > positions[:, None] - window
    mask = torch.zeros(t, prefix_len + t, dtype=dtype, device=positions.device)
    mask.masked_fill_(~visible, torch.finfo(dtype).min)
    return mask[None, None]  # (1, 1, T, K)
