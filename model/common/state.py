"""Decoding state shared by the target, the drafter and the loop, plus per-step statistics."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import DynamicCache


@dataclass
class Verdict:
    """Outcome of one verification forward.

    accepted: draft node indices on the accepted path (root's child first).
    tokens: the accepted draft tokens followed by the bonus token.
    hidden: per tapped layer, features (len(accepted) + 1, H) of the root and the accepted nodes,
    i.e. of the tokens that entered the target's KV cache in this step.
    node_argmax: the target's most likely next token at the root and at every draft node (N+1), for
    drafters that learn from the whole verified tree (lookahead's Jacobi window); None unless asked.
    token_ids: `tokens` on the device, for drafters that feed them to a net without a host-to-device copy.
    """

    accepted: list[int]
    tokens: list[int]
    draft_size: int
    hidden: dict[int, torch.Tensor] = field(default_factory=dict)
    node_argmax: list[int] | None = None
    token_ids: torch.Tensor | None = None


@dataclass
class Stats:
    """One entry per target forward pass (prefill included): tokens it emitted and nodes it verified."""

    accept_lengths: list[int] = field(default_factory=list)
    draft_sizes: list[int] = field(default_factory=list)
    draft_depths: list[int] = field(default_factory=list)  # how deep each step's draft reached (0: prefill, no draft)
    forward_time: float = 0.0  # seconds inside target forwards (measured when profiling)
    draft_time: float = 0.0  # seconds inside drafter propose/update (measured when profiling)

    def record(self, emitted: int, draft_size: int, draft_depth: int = 0) -> None:
        self.accept_lengths.append(emitted)
        self.draft_sizes.append(draft_size)
        self.draft_depths.append(draft_depth)

    @property
    def mean_accepted(self) -> float:
        return sum(self.accept_lengths) / max(len(self.accept_lengths), 1)


@dataclass
class DecodeState:
    """Everything known about one sequence being decoded (batch size 1).

    tokens holds prompt + generated tokens. The last token is "pending": it has been chosen but
    not yet fed to the target, so the target's cache always holds len(tokens) - 1 positions and
    the next verification forward starts with it (the root of the draft tree).
    hidden: per tapped layer, features of the tokens that entered the cache in the latest forward.
    """

    tokens: list[int]
    prompt_len: int
    cache: DynamicCache
    hidden: dict[int, torch.Tensor] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    finished: bool = False

    @property
    def new_tokens(self) -> list[int]:
        return self.tokens[self.prompt_len :]

    @property
    def cached_len(self) -> int:
        return len(self.tokens) - 1
