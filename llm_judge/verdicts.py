"""Reading the judge's decision out of its text. Anything ambiguous is unparseable, never a guess."""
from __future__ import annotations

import re

RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]\]")
WINNER = re.compile(r"\[\[\s*([ABC])\s*\]\]")


def parse_rating(text: str) -> tuple[float | None, str | None]:
    """(score, None) or (None, why it could not be read)."""
    found = {float(m) for m in RATING.findall(text)}
    if not found:
        return None, "no [[N]] rating in the judgment"
    if len(found) > 1:
        return None, f"conflicting ratings {sorted(found)}"
    score = found.pop()
    if not 1 <= score <= 10:
        return None, f"rating {score:g} outside 1-10"
    return score, None


def parse_winner(text: str) -> tuple[str | None, str | None]:
    """('A' | 'B' | 'C', None) or (None, why it could not be read); C is a tie."""
    found = set(WINNER.findall(text))
    if not found:
        return None, "no [[A]], [[B]] or [[C]] verdict in the judgment"
    if len(found) > 1:
        return None, f"conflicting verdicts {sorted(found)}"
    return found.pop(), None
