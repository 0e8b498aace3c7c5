"""Signs that a run's speed is not the speed of answering: answers cut by the length limit, or answers that loop.

A base model given a prompt it does not know how to end repeats itself until `max_new_tokens`; copying methods
(pld, lookahead) then report large speedups of the loop. Reports show both shares next to every speedup and mark
a run where most answers hit the limit or most tokens sit in repeated n-grams.
"""
from __future__ import annotations

from typing import Any, Sequence

NGRAM = 4  # a phrase of four tokens said twice in one answer is a repetition, not a coincidence
DEGENERATE_SHARE = 0.5  # more than half the answers at the limit, or half the tokens repeated: marked


def answer_units(row: dict[str, Any]) -> list[list]:
    """Each turn of choice 0 as tokens: the generated ids when recorded, else the text's words (Spec-Bench files)."""
    choice = row["choices"][0]
    ids = choice.get("token_ids")
    if isinstance(ids, list) and all(isinstance(turn, list) for turn in ids):
        return ids
    return [str(text).split() for text in choice.get("turns", [])]


def repeated_tokens(units: Sequence) -> int:
    """How many positions lie inside an n-gram that occurs at least twice in the sequence."""
    first: dict[tuple, int] = {}
    marked = [False] * len(units)
    for i in range(len(units) - NGRAM + 1):
        gram = tuple(units[i: i + NGRAM])
        if gram in first:
            for j in (first[gram], i):
                marked[j: j + NGRAM] = [True] * NGRAM
        else:
            first[gram] = i
    return sum(marked)


def repetition(rows: Sequence[dict[str, Any]]) -> float:
    """Share of all answer tokens (or words) that sit inside a repeated n-gram of their own answer."""
    turns = [turn for row in rows for turn in answer_units(row)]
    total = sum(len(turn) for turn in turns)
    return sum(repeated_tokens(turn) for turn in turns) / total if total else 0.0


def limit_share(rows: Sequence[dict[str, Any]]) -> float | None:
    """Share of answered turns that stopped at the run's max_new_tokens; None when the rows do not record it."""
    hits = turns = 0
    for row in rows:
        limit = (row.get("config") or {}).get("max_new_tokens")
        if not isinstance(limit, int):
            return None
        counts = row["choices"][0]["new_tokens"]
        hits += sum(n >= limit for n in counts)
        turns += len(counts)
    return hits / turns if turns else None


def is_degenerate(hit_limit: float | None, repeated: float) -> bool:
    return (hit_limit is not None and hit_limit > DEGENERATE_SHARE) or repeated > DEGENERATE_SHARE
