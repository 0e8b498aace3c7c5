"""Lookahead decoding (Fu et al. 2024): Jacobi guesses and n-gram verification in ONE target forward.

Each step's draft is one tree (so the shared verifier, its masks and its accept rules serve as is):

  lookahead branch: a 2-D window of W columns x up to N-1 levels. Level 0 is a chain (column j at
      depth j+1); the token at level l, column j hangs under level l-1, column j (depth j+1+l). Its
      ancestors are then exactly what the paper's mask lets it see: level 0 up to column j, then its
      own column. The target's argmax at the newest level is the next Jacobi iterate, i.e. the
      next level; each column plus that new token is an N-gram for the pool.
  verification branch: the pool's continuations of the pending token (at most G), merged into a trie.

Any path the target agrees with is accepted, lookahead nodes included (their context is exact).
Nodes are deterministic picks, so speculative sampling treats them as point masses: lossless at any
temperature. As in the reference implementation, the window is not re-aligned when several tokens
are accepted; it is a source of guesses, and losslessness does not depend on it.
"""
from __future__ import annotations

from dataclasses import dataclass

from model.common.state import DecodeState, Verdict
from model.common.tree import Draft
from model.lookahead.pool import NgramPool


@dataclass(frozen=True)
class Config:
    window: int = 7  # W: Jacobi columns
    ngram: int = 5  # N: n-gram size; the window keeps N-1 levels
    guesses: int = 7  # G: n-grams verified per step (and kept per key in the pool)
    prompt_ngrams: bool = True  # seed the pool with the prompt's n-grams (and the output's as it grows)

    def __post_init__(self) -> None:
        if self.window < 1 or self.ngram < 2 or self.guesses < 0:
            raise ValueError(f"need window >= 1, ngram >= 2, guesses >= 0; got {self.window}, {self.ngram}, {self.guesses}")


class LookaheadDrafter:
    hidden_layers: tuple[int, ...] = ()
    node_argmax = True  # the target's argmax at every window node is the next Jacobi level

    def __init__(self, config: Config):
        self.config = config
        self.pool = NgramPool(config.ngram, max(config.guesses, 1))
        self.levels: list[list[int]] = []
        self.newest: list[int] = []  # draft node index of each column of the newest level
        self.seen = 0  # committed tokens already added to the pool

    def reset(self, state: DecodeState) -> None:
        cfg = self.config
        self.pool = NgramPool(cfg.ngram, max(cfg.guesses, 1))
        prompt = state.tokens[: state.prompt_len]
        self.levels = [[prompt[-1 - j % len(prompt)] for j in range(cfg.window)]]  # Jacobi starts from arbitrary guesses
        self.seen = 0
        self._grow_pool(state)

    def _grow_pool(self, state: DecodeState) -> None:
        if self.config.prompt_ngrams:
            start = max(self.seen - self.config.ngram + 1, 0)
            self.pool.add_sequence(state.tokens[start:])
            self.seen = len(state.tokens)

    def propose(self, state: DecodeState) -> Draft:
        tokens: list[int] = []
        parents: list[int] = []
        below = [-1] * self.config.window  # node under which each column continues
        for level, row in enumerate(self.levels):
            for j, token in enumerate(row):
                if level == 0:
                    parents.append(below[j - 1] if j else -1)  # level 0 is a chain along the columns
                else:
                    parents.append(below[j])  # higher levels continue their own column
                below[j] = len(tokens)
                tokens.append(token)
        self.newest = list(below)
        trie: dict[tuple[int, ...], int] = {}
        for continuation in self.pool.get(state.tokens[-1])[: self.config.guesses]:
            parent = -1
            for depth in range(1, len(continuation) + 1):
                prefix = continuation[:depth]
                if prefix not in trie:
                    trie[prefix] = len(tokens)
                    tokens.append(prefix[-1])
                    parents.append(parent)
                parent = trie[prefix]
        return Draft(tokens, parents)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        assert verdict.node_argmax is not None, "lookahead needs the target's argmax at every node"
        new_level = [verdict.node_argmax[node + 1] for node in self.newest]
        if len(self.levels) == self.config.ngram - 1:
            for j, token in enumerate(new_level):
                self.pool.add([row[j] for row in self.levels] + [token])
            self.levels.pop(0)
        self.levels.append(new_level)
        self._grow_pool(state)


def build(target, config: Config, **_) -> LookaheadDrafter:
    return LookaheadDrafter(config)
