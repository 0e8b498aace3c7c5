"""Reduced draft vocabulary: the drafter predicts only the K most frequent target tokens of its language.

Against Gemma's 262,144-token vocabulary a full output layer would cost as much as a large part of
the target; a few thousand frequent tokens cover most of a language's text. Draft id K is "unknown"
(any target token outside the list): it can be read as input but is never proposed. The accept rule
stays exact because verification uses the target's full distribution.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch

FILENAME = "draft_vocab.json"


class DraftVocab:
    def __init__(self, target_ids: list[int], target_vocab_size: int):
        self.target_ids = list(target_ids)
        self.target_vocab_size = target_vocab_size
        self.unknown = len(self.target_ids)  # the extra draft id
        self.to_draft = torch.full((target_vocab_size,), self.unknown, dtype=torch.long)
        self.to_draft[torch.tensor(self.target_ids)] = torch.arange(len(self.target_ids))
        self.to_target = torch.tensor(self.target_ids, dtype=torch.long)

    @property
    def size(self) -> int:
        """Draft-side vocabulary size, unknown included."""
        return len(self.target_ids) + 1

    @classmethod
    def most_frequent(cls, sequences: Iterable[list[int]], k: int, target_vocab_size: int,
                      always: Iterable[int] = (), first: Iterable[list[int]] = ()) -> "DraftVocab":
        """`always`, then every token of `first` by frequency, then the most frequent of `sequences`: K ids."""
        ranked = [t for seqs in (first, sequences) for t, _ in Counter(t for seq in seqs for t in seq).most_common(k)]
        keep = list(dict.fromkeys(list(always) + ranked))[:k]
        return cls(keep, target_vocab_size)

    def save(self, folder: str | Path) -> None:
        Path(folder, FILENAME).write_text(json.dumps({"target_vocab_size": self.target_vocab_size,
                                                      "target_ids": self.target_ids}))

    @classmethod
    def load(cls, folder: str | Path) -> "DraftVocab | None":
        """The folder's reduced vocabulary, or None for a drafter over the full target vocabulary."""
        path = Path(folder, FILENAME)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(data["target_ids"], data["target_vocab_size"])

    def coverage(self, sequences: Iterable[list[int]]) -> float:
        """Share of tokens in `sequences` that the draft vocabulary can propose."""
        known = set(self.target_ids)
        total = hits = 0
        for seq in sequences:
            total += len(seq)
            hits += sum(t in known for t in seq)
        return hits / max(total, 1)
