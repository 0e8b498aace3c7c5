"""From CTC slot distributions to a draft tree.

S slots each give a distribution over the draft vocabulary plus a blank. A slot path reads as tokens
by CTC's rule: merge runs of the same symbol, then drop blanks ("a a _ b" -> "a b", "a _ a" -> "a a").
Many slot paths read as the same token sequence; prefix beam search sums them, so each candidate is a
distinct sequence with the total probability of all its slot paths. The candidates are then merged
into a trie (a shared prefix is one node), which is the draft the target verifies in one forward.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def collapse(path: Sequence[int], blank: int) -> tuple[int, ...]:
    """The token sequence a slot path stands for: repeats merged, then blanks removed."""
    out, previous = [], None
    for symbol in path:
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return tuple(out)


def prefix_beam_search(slot_probs: np.ndarray, blank: int, beam: int, top_k: int) -> list[tuple[tuple[int, ...], float]]:
    """slot_probs (S, V+1) -> [(token sequence, probability)] of the `beam` most probable non-empty
    sequences, best first. Only each slot's top_k tokens (and the blank) are extended."""
    slots = []
    for probs in slot_probs:
        ranked = [int(c) for c in np.argsort(-probs, kind="stable")[: top_k + 1] if c != blank][:top_k]
        slots.append((float(probs[blank]), [(c, float(probs[c])) for c in ranked]))
    return beam_search_over(slots, beam)


def beam_search_over(slots: list[tuple[float, list[tuple[int, float]]]], beam: int) -> list[tuple[tuple[int, ...], float]]:
    """Prefix beam search over each slot's blank probability and its candidate (token, probability) pairs: what
    the drafter reads back from the device (the top-k per slot, taken there)."""
    # per prefix: probability of the slot paths so far that read as it and end in a blank / in its last token
    beams: dict[tuple[int, ...], list[float]] = {(): [1.0, 0.0]}
    for p_blank, candidates in slots:
        grown: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for prefix, (ends_blank, ends_token) in beams.items():
            grown[prefix][0] += (ends_blank + ends_token) * p_blank
            last = prefix[-1] if prefix else None
            for c, p_c in candidates:
                if c == last:
                    grown[prefix][1] += ends_token * p_c  # "a a" stays "a"
                    grown[prefix + (c,)][1] += ends_blank * p_c  # "a _ a" is "a a"
                else:
                    grown[prefix + (c,)][1] += (ends_blank + ends_token) * p_c
        # a reading no slot path reaches (e.g. a repeat right after its own token) carries no mass
        beams = dict(sorted(((k, v) for k, v in grown.items() if sum(v) > 0), key=lambda kv: -sum(kv[1]))[:beam])
    ranked = sorted(((seq, float(sum(p))) for seq, p in beams.items() if seq), key=lambda kv: -kv[1])
    return ranked


def trie(candidates: list[tuple[tuple[int, ...], float]], total_tokens: int) -> tuple[list[int], list[int]]:
    """(tokens, parents) of the `total_tokens` trie nodes carrying the most candidate probability.

    A node's mass is the summed probability of the candidates through it, never less than any of its
    descendants', so the chosen nodes include every ancestor; parents precede children."""
    mass: dict[tuple[int, ...], float] = defaultdict(float)
    for seq, p in candidates:
        for end in range(1, len(seq) + 1):
            mass[seq[:end]] += p
    chosen = sorted(mass, key=lambda prefix: (-mass[prefix], len(prefix)))[:total_tokens]
    chosen.sort(key=len)  # shallow first: a parent always comes before its children
    index = {prefix: i for i, prefix in enumerate(chosen)}
    return [prefix[-1] for prefix in chosen], [index[prefix[:-1]] if len(prefix) > 1 else -1 for prefix in chosen]
