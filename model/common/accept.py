"""Accept rules: which draft nodes the target keeps, and the bonus token it adds after them.

Both rules walk the draft tree from the root: at each node they look at its children and either
move to one of them or stop and emit a bonus token drawn from the target at that node.

- greedy: move to the child whose token is the target's argmax. Lossless against greedy decoding.
- typical acceptance (Medusa, Cai et al. 2024), only when asked: move to the first child whose token
  has target probability above min(epsilon, delta * exp(-entropy)), emit the argmax after the last
  accepted node. Faster at high temperature but LOSSY: it does not preserve the target distribution,
  and answer files say so.
On the device (`accept_on_device`, what the verifier runs): every rule above becomes "which nodes are good",
and the accepted path is the deepest node whose ancestors are all good, found with tensor ops and read back
once per step. For deterministic drafts (probs None), recursive rejection is the same as drawing one token
from the target at each node and moving to the child that carries it: child x_j of a node is accepted with
probability p(x_j) either way, and the bonus follows p restricted to the tokens no child carries. A chain
with draft distributions attached (sd) takes Leviathan's rule with all uniforms drawn at once. Trees whose
nodes carry draft distributions need the sequential walk below on the host (no shipped method drafts them).

- speculative sampling (Leviathan et al. 2023, Chen et al. 2023) generalised to trees by recursive
  rejection (SpecInfer): try the children in order against a residual distribution; a child with
  draft distribution q is accepted with probability min(1, p(x)/q(x)), otherwise the residual
  becomes norm(max(p - q, 0)). A deterministic child (q = None) is a point mass: accepted with
  probability p(x), otherwise x is removed from the residual. Output follows the target exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from model.common.tree import Draft


@dataclass(frozen=True)
class AcceptConfig:
    """temperature 0 means greedy; top_p < 1 restricts sampling to the nucleus (applied to target and drafter alike)."""

    temperature: float = 0.0
    top_p: float = 1.0
    typical: bool = False  # Medusa's typical acceptance instead of speculative sampling (lossy; temperature > 0 only)
    typical_epsilon: float = 0.09  # hard probability threshold
    typical_delta: float = 0.3  # entropy-scaled threshold: delta * exp(-H(p))

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def lossy(self) -> bool:
        """True when outputs need not follow the target distribution (typical acceptance while sampling)."""
        return self.typical and not self.greedy


def warp(logits: torch.Tensor, cfg: AcceptConfig) -> torch.Tensor:
    """Logits (..., V) -> sampling probabilities after temperature and top-p, in float32."""
    probs = torch.softmax(logits.float() / cfg.temperature, dim=-1)
    if cfg.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
        sorted_probs[mass_before >= cfg.top_p] = 0.0  # keep the smallest prefix reaching top_p
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
        probs /= probs.sum(dim=-1, keepdim=True)
    return probs


def draw(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of probs (..., V) -> (..., 1), with probability proportional to the row (torch.multinomial's
    distribution), by inverse CDF with one uniform draw per row, in two levels so that no tail token loses its mass
    and no row is cumulated whole in float64: the row is cut into ~sqrt(V) blocks of ~sqrt(V) tokens, float64
    cumulative block masses pick the block, and the uniform's place inside that block, scaled to a float64
    cumulative sum over the block's own tokens, picks the token (never one of weight 0). On a 2-core CPU over a
    262k vocabulary: ~1.2 ms for 32 rows, against ~38 ms for one float64 cumulative sum over each whole row."""
    vocab = probs.shape[-1]
    rows = probs.reshape(-1, vocab)
    size = math.isqrt(vocab - 1) + 1  # tokens per block: ceil(sqrt(V))
    blocks = -(-vocab // size)
    if blocks * size != vocab:
        rows = torch.nn.functional.pad(rows, (0, blocks * size - vocab))  # zero weights: never picked
    rows = rows.view(len(rows), blocks, size)
    block_cdf = rows.sum(-1).to(torch.float64).cumsum(-1)  # (R, blocks)
    total = block_cdf[:, -1:]
    below = torch.zeros_like(total)
    u = torch.rand(total.shape, generator=generator, dtype=total.dtype, device=total.device) * total
    u = torch.minimum(u, torch.nextafter(total, below))  # u < total even where the product rounds up
    block = torch.searchsorted(block_cdf, u, right=True)  # (R, 1): the first block whose cdf exceeds u
    before = torch.where(block > 0, block_cdf.gather(1, (block - 1).clamp(min=0)), below)
    fraction = (u - before) / (block_cdf.gather(1, block) - before)  # in [0, 1): u's place inside the block
    inside = rows[torch.arange(len(rows), device=rows.device), block[:, 0]].to(torch.float64).cumsum(-1)  # (R, size)
    rest = torch.minimum(fraction * inside[:, -1:], torch.nextafter(inside[:, -1:], below))
    token = torch.searchsorted(inside, rest, right=True)
    return (block * size + token).view(*probs.shape[:-1], 1)


def greedy_tokens(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row (..., V) -> (...), ties to the first index as with argmax. Through `max`:
    on a CPU, torch 2.13's bfloat16 argmax is ~4x slower than max over the same scores (15 ms against 3.4 ms for 32
    rows of a 262k vocabulary), and logits stay in the model's dtype until sampling needs float32."""
    return logits.max(dim=-1).indices


def sample(probs: torch.Tensor, generator: torch.Generator | None) -> int:
    return int(draw(probs, generator).item())


def pick_next(logits: torch.Tensor, cfg: AcceptConfig, generator: torch.Generator | None) -> int:
    """One token from one row of target logits, as plain decoding would choose it."""
    if cfg.greedy:
        return int(greedy_tokens(logits).item())
    return sample(warp(logits, cfg), generator)


def greedy_walk(draft: Draft, best: list[int]) -> tuple[list[int], int]:
    """The target's argmax at root + nodes (N+1) -> (accepted node path, bonus token)."""
    children = draft.children()
    path: list[int] = []
    node = -1
    while True:
        want = best[node + 1]
        nxt = next((c for c in children[node + 1] if draft.tokens[c] == want), None)
        if nxt is None:
            return path, want
        path.append(nxt)
        node = nxt


def typical_walk(draft: Draft, probs: torch.Tensor, cfg: AcceptConfig) -> tuple[list[int], int]:
    """probs (N+1, V) warped target distributions -> (accepted node path, bonus token), by typical acceptance."""
    entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim=-1)  # (N+1,)
    threshold = torch.clamp(cfg.typical_delta * torch.exp(-entropy), max=cfg.typical_epsilon).tolist()
    children = draft.children()
    path: list[int] = []
    node = -1
    while True:
        row = probs[node + 1]
        nxt = next((c for c in children[node + 1] if float(row[draft.tokens[c]]) > threshold[node + 1]), None)
        if nxt is None:
            return path, int(row.argmax())
        path.append(nxt)
        node = nxt


def residual_after_rejection(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """What to sample from once a draft from q was rejected: norm(max(p - q, 0)), the part of p that q under-covers
    (Leviathan et al.); p itself when nothing is left (p == q up to rounding, where no draft is ever rejected)."""
    residual = torch.clamp(p - q, min=0.0)
    total = residual.sum()
    return torch.where(total > 0, residual / total.clamp_min(1e-30), p)


def speculative_walk(
    draft: Draft, probs: torch.Tensor, generator: torch.Generator | None
) -> tuple[list[int], int]:
    """probs (N+1, V) warped target distributions for root + nodes -> (accepted node path, bonus token)."""
    children = draft.children()
    path: list[int] = []
    node = -1
    while True:
        residual = probs[node + 1]
        accepted = None
        for child in children[node + 1]:
            x = draft.tokens[child]
            q = draft.prob(child)
            q_x = 1.0 if q is None else float(q[x])
            p_x = float(residual[x])
            if q_x <= 0.0:
                raise ValueError(f"draft node {child} carries token {x} with draft probability 0: the drafter did not sample it from q")
            ratio = min(1.0, p_x / q_x)
            if float(torch.rand((), generator=generator, device=probs.device)) < ratio:
                accepted = child
                break
            point = torch.nn.functional.one_hot(torch.tensor(x), residual.shape[-1]).to(residual)
            residual = residual_after_rejection(residual, point if q is None else q.to(residual.device))
        if accepted is None:
            return path, sample(residual, generator)
        path.append(accepted)
        node = accepted


@dataclass
class DeviceWalk:
    """Outcome of an accept rule, still on the device: n accepted nodes, the bonus token, and `order`, whose
    first n entries are the accepted nodes from the root's child down. `bad_draft` is True when a sampled
    node carries a token its own draft distribution gives probability 0 (a drafter bug)."""

    n: torch.Tensor  # () long
    bonus: torch.Tensor  # () long
    order: torch.Tensor  # (N,) long
    bad_draft: torch.Tensor  # () bool


def accept_on_device(
    ids: torch.Tensor,
    parents: torch.Tensor | None,
    seen: torch.Tensor | None,
    logits: torch.Tensor,
    probs: list[torch.Tensor | None] | None,
    cfg: AcceptConfig,
    generator: torch.Generator | None,
) -> DeviceWalk:
    """ids (N+1,) pending token + draft tokens, parents (N,), seen (N+1, N+1) ancestor matrix (both None for a
    chain), logits (N+1, V): the accept rule without a host sync. `probs` (one draft distribution per node, None for a point mass) only
    for chains; trees whose nodes carry draft distributions take `speculative_walk`."""
    tokens = ids[1:]
    n_nodes = tokens.shape[0]
    device = logits.device
    if seen is None:  # a chain: node i is scored by row i and has no siblings
        parent_row = torch.arange(n_nodes, device=device)
        earlier_sibling = None
    else:
        parent_row = parents + 1  # the logits row that scores each node
        earlier_sibling = (parents[:, None] == parents[None, :]) & torch.ones(
            n_nodes, n_nodes, dtype=torch.bool, device=device).tril(-1)  # (N, N): j < i, same parent
    bad_draft = torch.zeros((), dtype=torch.bool, device=device)
    if probs is not None and all(q is None for q in probs):
        probs = None  # every node a point mass
    if cfg.greedy or (probs is None and not cfg.typical):
        choice = greedy_tokens(logits) if cfg.greedy else draw(warp(logits, cfg), generator)[:, 0]
        good = tokens == choice[parent_row]
        if earlier_sibling is not None:  # of siblings carrying one token, only the first can be taken
            good &= ~(earlier_sibling & (tokens[:, None] == tokens[None, :])).any(dim=1)
        bonus_rows = choice
    elif cfg.typical:
        p = warp(logits, cfg)
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1)  # (N+1,)
        threshold = torch.clamp(cfg.typical_delta * torch.exp(-entropy), max=cfg.typical_epsilon)
        passes = p[parent_row, tokens] > threshold[parent_row]
        good = passes if earlier_sibling is None else passes & ~(earlier_sibling & passes[None, :]).any(dim=1)  # the first passing child
        bonus_rows = p.argmax(dim=-1)
    else:  # a chain with draft distributions: accept x_i with probability min(1, p(x_i) / q(x_i))
        p = warp(logits, cfg)
        point = torch.nn.functional.one_hot(tokens, logits.shape[-1]).float()  # a node without q is a point mass
        q = torch.stack([point[i] if qi is None else qi.to(device) for i, qi in enumerate(probs)])  # (N, V)
        q_x, p_x = q[torch.arange(n_nodes, device=device), tokens], p[parent_row, tokens]
        bad_draft = (q_x <= 0).any()
        good = torch.rand(n_nodes, generator=generator, device=device) * q_x < p_x
        bonus_rows = None
    if seen is None:  # a chain (parents -1, 0, 1, ...): the accepted prefix runs to the first bad node
        n = good.long().cumprod(dim=0).sum() if n_nodes else torch.zeros((), dtype=torch.long, device=device)
        row = n  # the logits row after the last accepted node
        order = torch.arange(n_nodes, device=device)
    else:
        nodes = seen[1:, 1:]  # (N, N): node i's ancestors among the nodes, itself included
        reachable = ~(nodes & ~good[None, :]).any(dim=1)  # every node on the path to i is good
        depth = torch.where(reachable, nodes.sum(dim=1), 0)
        n = depth.max()  # at most one good child per node, so one reachable node per depth
        row = torch.where(n > 0, depth.argmax() + 1, 0)  # the deepest accepted node's logits row (0: the root)
        order = torch.argsort((~seen[row, 1:]).to(torch.int8), stable=True)  # its path first, in node order
    if bonus_rows is not None:
        bonus = bonus_rows[row]
    else:  # first rejection at row n: residual norm(max(p - q, 0)); all accepted (n = N): p itself
        q_row = torch.cat([q, q.new_zeros(1, q.shape[1])])[row]
        bonus = draw(residual_after_rejection(p[row], q_row), generator)[0]
    return DeviceWalk(n=n, bonus=bonus, order=order, bad_draft=bad_draft)
