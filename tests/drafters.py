"""Test-only drafters that exercise the verifier with trees: children expanded from a draft model."""
from __future__ import annotations

import torch

from model.common.accept import AcceptConfig, warp
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft


class TreeDrafter:
    """Expands `branch` children per node for `depth` levels with a draft model (recomputing, no cache).

    Greedy: the top-`branch` tokens (deterministic, probs None). Sampling: children drawn i.i.d.
    from the draft distribution q, which is attached to each node (recursive rejection needs it).
    """

    hidden_layers: tuple[int, ...] = ()

    def __init__(self, model, branch: int = 2, depth: int = 3, accept: AcceptConfig = AcceptConfig(), generator=None):
        self.model, self.branch, self.depth, self.accept, self.generator = model, branch, depth, accept, generator

    def reset(self, state: DecodeState) -> None:
        pass

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        pass

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        tokens: list[int] = []
        parents: list[int] = []
        probs: list[torch.Tensor | None] = []
        frontier = [(-1, list(state.tokens))]
        for _ in range(self.depth):
            batch = torch.tensor([ctx for _, ctx in frontier])
            logits = self.model(input_ids=batch, logits_to_keep=1).logits[:, -1].float()  # (F, V)
            next_frontier = []
            for (parent, ctx), row in zip(frontier, logits):
                if self.accept.greedy:
                    picks, q = row.topk(self.branch).indices.tolist(), None
                else:
                    q = warp(row, self.accept)
                    picks = torch.multinomial(q, self.branch, replacement=True, generator=self.generator).tolist()
                for tok in picks:
                    tokens.append(tok)
                    parents.append(parent)
                    probs.append(q)
                    next_frontier.append((len(tokens) - 1, ctx + [tok]))
            frontier = next_frontier
        return Draft(tokens, parents, probs)


class RandomChainDrafter:
    """Proposes random tokens: nearly every draft is rejected, exercising KV rollback."""

    hidden_layers: tuple[int, ...] = ()

    def __init__(self, vocab_size: int, length: int = 4, seed: int = 0):
        self.vocab_size, self.length = vocab_size, length
        self.generator = torch.Generator().manual_seed(seed)

    def reset(self, state: DecodeState) -> None:
        pass

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        pass

    def propose(self, state: DecodeState) -> Draft:
        return Draft.chain(torch.randint(0, self.vocab_size, (self.length,), generator=self.generator).tolist())
