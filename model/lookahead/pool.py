"""The n-gram pool: continuations of N-1 tokens keyed by their first token, at most G per key."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class NgramPool:
    def __init__(self, n: int, per_key: int):
        if n < 2 or per_key < 1:
            raise ValueError(f"an n-gram pool needs n >= 2 and per_key >= 1, got n={n}, per_key={per_key}")
        self.n, self.per_key = n, per_key
        self.table: dict[int, OrderedDict[tuple[int, ...], None]] = {}

    def add(self, ngram: Sequence[int]) -> None:
        """Store ngram[1:] under ngram[0]; a known one becomes the newest, the oldest beyond per_key is evicted."""
        if len(ngram) != self.n:
            raise ValueError(f"expected an {self.n}-gram, got {len(ngram)} tokens")
        entries = self.table.setdefault(ngram[0], OrderedDict())
        continuation = tuple(ngram[1:])
        entries[continuation] = None
        entries.move_to_end(continuation)
        while len(entries) > self.per_key:
            entries.popitem(last=False)

    def add_sequence(self, tokens: Sequence[int]) -> None:
        for i in range(len(tokens) - self.n + 1):
            self.add(tokens[i : i + self.n])

    def get(self, key: int) -> list[tuple[int, ...]]:
        """Continuations of `key`, newest first."""
        return list(reversed(self.table.get(key, {})))
