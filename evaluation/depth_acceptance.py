"""Acceptance per draft depth: how often the draft token at depth d was accepted, given depth d-1 was.

Each answer row records, per target forward, the tokens it emitted (`accept_lengths`: accepted drafts + 1) and how
deep that step's draft reached (`draft_depths`; for a tree, its deepest node). A step whose draft reaches depth D and
that accepted a tokens tried depths 1..min(a + 1, D) and passed depths 1..a. Steps without a draft (the prefill)
count nowhere. The rate at depth 1 is the first draft token's acceptance; the product of the rates up to d is the
chance a step gets d tokens ahead. vLLM exports the same per position.
"""
from __future__ import annotations

from typing import Any, Sequence


def depth_counts(rows: Sequence[dict[str, Any]]) -> tuple[list[int], list[int]] | None:
    """(tried, passed) per depth 1.. over all steps of all rows; None when a row does not record draft depths."""
    tried: list[int] = []
    passed: list[int] = []
    for row in rows:
        choice = row["choices"][0]
        depths = choice.get("draft_depths")
        if not isinstance(depths, list) or len(depths) != len(choice["accept_lengths"]):
            return None
        for emitted, depth in zip(choice["accept_lengths"], depths):
            accepted = min(emitted - 1, depth)
            for d in range(1, min(accepted + 1, depth) + 1):
                while len(tried) < d:
                    tried.append(0)
                    passed.append(0)
                tried[d - 1] += 1
                passed[d - 1] += d <= accepted
    return tried, passed


def acceptance_by_depth(rows: Sequence[dict[str, Any]]) -> tuple[float, ...] | None:
    """Acceptance rate at depth 1, 2, ... (conditional on the depth above); None without recorded depths."""
    counts = depth_counts(rows)
    if counts is None:
        return None
    return tuple(p / t for t, p in zip(*counts))
