"""Prompt lookup (Saxena 2023): match the last n tokens (n = max_ngram .. min_ngram) earlier in the
prompt + output and propose the continuation of the most recent match. Training-free, no extra model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from model.common.state import DecodeState, Verdict
from model.common.tree import Draft


@dataclass(frozen=True)
class Config:
    max_ngram: int = 3  # longest suffix n-gram to look up
    min_ngram: int = 1
    num_draft: int = 10  # tokens proposed after a match

    def __post_init__(self) -> None:
        if not 1 <= self.min_ngram <= self.max_ngram:
            raise ValueError(f"need 1 <= min_ngram <= max_ngram, got {self.min_ngram}, {self.max_ngram}")
        if self.num_draft < 1:
            raise ValueError(f"num_draft must be >= 1, got {self.num_draft}")


def lookup(tokens: np.ndarray, cfg: Config) -> list[int]:
    """Continuation of the most recent earlier occurrence of the longest matching suffix n-gram."""
    for n in range(cfg.max_ngram, cfg.min_ngram - 1, -1):
        if len(tokens) <= n:
            continue
        windows = sliding_window_view(tokens[:-1], n)  # (L-n, n): every n-gram that has a successor
        hits = np.flatnonzero((windows == tokens[-n:]).all(axis=1))
        if hits.size:
            start = int(hits[-1]) + n
            return tokens[start : start + cfg.num_draft].tolist()
    return []


class PromptLookupDrafter:
    hidden_layers: tuple[int, ...] = ()

    def __init__(self, config: Config):
        self.config = config

    def reset(self, state: DecodeState) -> None:
        pass

    def propose(self, state: DecodeState) -> Draft:
        return Draft.chain(lookup(np.asarray(state.tokens), self.config))

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        pass


def build(target, config: Config, **_) -> PromptLookupDrafter:
    return PromptLookupDrafter(config)
