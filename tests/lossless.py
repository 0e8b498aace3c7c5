"""A lossless test must show two things: every drafter emitted plain decoding's tokens, and drafts were accepted
(a drafter that proposes nothing, or whose every node is rejected, would pass the first check alone)."""
from __future__ import annotations

from collections import Counter

from model.common.loop import Generation


def accepted_drafts(out: Generation) -> int:
    """Draft tokens the target took: every step emits its accepted drafts plus one token of its own."""
    return sum(length - 1 for length in out.stats.accept_lengths)


class LosslessLedger:
    """Checks each output against the reference and counts accepted draft tokens per drafter over a test's prompts."""

    def __init__(self) -> None:
        self.accepted: Counter = Counter()

    def check(self, label: str, out: Generation, expected: list[int]) -> None:
        assert out.tokens == expected, f"{label} diverged from plain decoding"
        self.accepted[label] += accepted_drafts(out)

    def assert_drafts_accepted(self, labels=None) -> None:
        """Every drafter checked (or those named) had at least one draft token accepted."""
        idle = [label for label in (labels or self.accepted) if self.accepted[label] == 0]
        assert not idle, f"no draft token was ever accepted for {idle}: losslessness was not exercised"


def answer_vocabulary(outputs: list[list[int]], target_vocab_size: int):
    """A reduced draft vocabulary of exactly the tokens plain decoding emits for a test's prompts. An untrained head
    then picks among a few dozen candidates that all occur in the answers instead of among the whole vocabulary,
    so drafts are accepted often enough to exercise acceptance, while the head still decides which and where."""
    from model.sd.vocab import DraftVocab

    return DraftVocab(sorted({t for out in outputs for t in out}), target_vocab_size)


def accepted_in_file(path) -> int:
    """Accepted draft tokens over every answer of an answer file written by evaluation.run."""
    from evaluation.jsonl_store import read_rows

    return sum(length - 1 for row in read_rows(path) for length in row["choices"][0]["accept_lengths"])
