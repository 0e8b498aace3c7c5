"""Signs that a run's speed is not the speed of answering: answers cut by the length limit, answers that loop, or
answers that echo their own prompt.

A base model given a prompt it does not know how to end repeats itself until `max_new_tokens`; one asked to
translate a language it barely knows may write the source sentence back (measured: Gemma 3 270M on zh-long).
Copying methods (pld, lookahead) then report large speedups of the loop or of the copy. Reports show these shares
next to every speedup and mark a run where most answers hit the limit, most tokens sit in repeated n-grams, or most
answers stand verbatim in their prompt.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from evaluation.quality import answer_text

NGRAM = 4  # a phrase of four tokens said twice in one answer is a repetition, not a coincidence
DEGENERATE_SHARE = 0.5  # more than half the answers at the limit, or half the tokens repeated: marked
ECHO_MIN_BYTES = 8  # a shorter answer (a number, a name) may stand in its source legitimately; UTF-8 bytes, so
# that three Chinese characters weigh like a nine-letter word


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


def echo_share(rows: Sequence[dict[str, Any]], prompts: dict[Any, str]) -> float | None:
    """Share of first-turn answers, of the questions whose prompt is known, that stand verbatim in that prompt
    (stripped, at least ECHO_MIN_BYTES long); None when no prompt is known."""
    echoed = known = 0
    for row in rows:
        prompt = prompts.get(row["question_id"])
        if prompt is None:
            continue
        answer = answer_text(row).strip()
        known += 1
        echoed += len(answer.encode()) >= ECHO_MIN_BYTES and answer in prompt
    return echoed / known if known else None


def is_degenerate(hit_limit: float | None, repeated: float, echoed: float | None = None) -> bool:
    return ((hit_limit is not None and hit_limit > DEGENERATE_SHARE) or repeated > DEGENERATE_SHARE
            or (echoed is not None and echoed > DEGENERATE_SHARE))


def flagged(m: Any) -> bool:
    """is_degenerate for a run's shares or for its baseline's: `m` has hit_limit, repeated and echoed, each also as
    baseline_*, with NaN for a share not known (a speed Metrics or SummaryRow)."""
    known = lambda x: None if math.isnan(x) else x  # noqa: E731
    return (is_degenerate(known(m.hit_limit), m.repeated, known(m.echoed))
            or is_degenerate(known(m.baseline_hit_limit), m.baseline_repeated, known(m.baseline_echoed)))
