"""Speculative sampling preserves the target distribution (chi-square tests on tiny vocabularies),
for chains and trees, with sampled (q attached) and deterministic (point-mass) draft nodes."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from drafters import TreeDrafter
from scipy.stats import chisquare
from tiny import tiny_llama

from model.common.accept import AcceptConfig, draw, speculative_walk, typical_walk, warp
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.common.tree_search import DynamicTree
from model.ctc.drafter import Config as CtcConfig
from model.ctc.drafter import CtcDrafter
from model.ctc.net import new_net as new_ctc_net
from model.eagle.drafter import EagleDrafter
from model.eagle.net import new_net
from model.lookahead.drafter import Config as LookaheadConfig
from model.lookahead.drafter import LookaheadDrafter
from model.common.tree import Draft
from model.sd.drafter import Config as SdConfig
from model.sd.drafter import DraftModelDrafter
from model.sd.vocab import DraftVocab

V = 5
ALPHA = 1e-3  # a correct rule fails a seeded test with this probability at most


def markov(seed: int, sharpness: float) -> torch.Tensor:
    """(V, V) next-token distributions conditioned on the last token."""
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(sharpness * torch.randn(V, V, generator=g), dim=-1)


P, Q = markov(0, 1.5), markov(1, 1.5)


def draft_tree(last: int, shape: str, g: torch.Generator) -> Draft:
    """chain: 3 tokens sampled from Q; tree: 2 sampled children per node, depth 2; topk: Q's top-2, deterministic."""
    tokens, parents, probs = [], [], []
    frontier = [(-1, last)]
    depth, branch = {"chain": (3, 1), "tree": (2, 2), "topk": (2, 2)}[shape]
    for _ in range(depth):
        nxt = []
        for parent, tok in frontier:
            q = Q[tok]
            picks = q.topk(branch).indices.tolist() if shape == "topk" else torch.multinomial(q, branch, True, generator=g).tolist()
            for x in picks:
                tokens.append(x)
                parents.append(parent)
                probs.append(None if shape == "topk" else q)
                nxt.append((len(tokens) - 1, x))
        frontier = nxt
    return Draft(tokens, parents, probs)


def sample_two_tokens(shape: str, n: int, seed: int = 0) -> Counter:
    """Joint counts of the first two tokens emitted after token 0 by repeated draft + speculative_walk."""
    g = torch.Generator().manual_seed(seed)
    counts: Counter = Counter()
    for _ in range(n):
        seq = [0]
        while len(seq) < 3:
            draft = draft_tree(seq[-1], shape, g)
            rows = torch.stack([P[seq[-1]]] + [P[t] for t in draft.tokens])  # target at root + each node
            path, bonus = speculative_walk(draft, rows, g)
            seq += [draft.tokens[i] for i in path] + [bonus]
        counts[(seq[1], seq[2])] += 1
    return counts


def chi2_pvalue(counts: Counter, expected: dict, n: int) -> float:
    """Pearson chi-square of observed counts against expected probabilities; rare cells (< 5 expected) pooled."""
    total = sum(expected.values())
    observed, predicted, pooled_obs, pooled_exp = [], [], 0.0, 0.0
    for cell, p in expected.items():
        e = p / total * n
        if e < 5:
            pooled_obs, pooled_exp = pooled_obs + counts.get(cell, 0), pooled_exp + e
        else:
            observed.append(counts.get(cell, 0))
            predicted.append(e)
    if pooled_exp > 0:
        observed.append(pooled_obs)
        predicted.append(pooled_exp)
    predicted = [e * sum(observed) / sum(predicted) for e in predicted]  # exact totals for scipy
    return chisquare(observed, predicted).pvalue


EXPECTED_PAIRS = {(a, b): float(P[0, a] * P[a, b]) for a, b in itertools.product(range(V), repeat=2)}


@pytest.mark.parametrize("shape", ["chain", "tree", "topk"])
def test_speculative_walk_preserves_target_distribution(shape):
    n = 12000
    assert chi2_pvalue(sample_two_tokens(shape, n), EXPECTED_PAIRS, n) > ALPHA


@pytest.mark.parametrize("shape", ["chain", "tree", "topk"])
def test_walk_chi_square_catches_sampling_the_bonus_from_p(shape, monkeypatch):
    """Power check at the same n: after a rejection, sampling from p instead of the residual is caught (for a
    point-mass node the residual is p without the rejected token)."""
    import model.common.accept as accept_rules

    monkeypatch.setattr(accept_rules, "residual_after_rejection", lambda p, q: p)
    n = 12000
    assert chi2_pvalue(sample_two_tokens(shape, n), EXPECTED_PAIRS, n) < ALPHA


def test_chi_square_detects_the_draft_distribution():
    """Power check: sampling from the drafter alone is told apart from the target."""
    g = torch.Generator().manual_seed(0)
    n = 12000
    counts = Counter()
    for _ in range(n):
        a = int(torch.multinomial(Q[0], 1, generator=g))
        counts[(a, int(torch.multinomial(Q[a], 1, generator=g)))] += 1
    assert chi2_pvalue(counts, EXPECTED_PAIRS, n) < 1e-12


def randomised_slots(net):
    for slot in net.slots:  # untrained slots are the identity; vary them so the drafts branch
        torch.nn.init.normal_(slot.linear.weight, std=0.5)
    return net


def exact_sequences(model, prompt: list[int], cfg: AcceptConfig, vocab: int, length: int) -> dict:
    """Exact distribution of the first `length` tokens the warped target samples after `prompt` (vocab**length cells)."""
    joint = {(): 1.0}
    with torch.inference_mode():
        for _ in range(length):
            prefixes = list(joint)
            rows = warp(model(torch.tensor([prompt + list(x) for x in prefixes])).logits[:, -1], cfg)  # (prefixes, V)
            joint = {x + (t,): joint[x] * float(row[t]) for x, row in zip(prefixes, rows) for t in range(vocab)}
    return joint


def marginal(joint: dict, positions: slice) -> dict:
    out: dict = {}
    for cell, p in joint.items():
        out[cell[positions]] = out.get(cell[positions], 0.0) + p
    return out


LOOP_KINDS = ["sd-chain", "sd-draft-vocabulary", "sampled-tree", "eagle2", "lookahead", "ctc"]
LOOP_SAMPLES = 1000  # the power checks below show that the bug they must catch fails at this n


def de_bruijn(vocab: int, n: int) -> list[int]:
    """A cyclic sequence holding every n-gram over `vocab` exactly once (vocab**n tokens)."""
    seq: list[int] = []
    a = [0] * vocab * n

    def extend(t: int, p: int) -> None:
        if t > n:
            if n % p == 0:
                seq.extend(a[1: p + 1])
            return
        a[t] = a[t - p]
        extend(t + 1, p)
        for j in range(a[t - p] + 1, vocab):
            a[t] = j
            extend(t + 1, t)

    extend(1, 1)
    return seq


def perturbed(model, seed: int, scale: float = 0.3):
    """A draft model close to the target but not equal: drafts are often accepted at depth 2 and 3, and still
    rejected often enough that the residual is sampled (a draft equal to the target is never rejected)."""
    import copy

    near = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for weight in near.parameters():
            weight.add_(scale * weight.std() * torch.randn(weight.shape, generator=g))
    return near


def in_draft_vocabulary(model, target_ids: list[int]) -> tuple[torch.nn.Module, DraftVocab]:
    """`model` as a drafter over a reduced vocabulary of `target_ids` (draft id i is target token target_ids[i]): its
    embedding and output rows reordered to draft ids, the one row left over serving as the unknown id. Same
    predictions over the tokens it keeps, so drafts are accepted as often, and a mixed-up id map shows in the
    distribution."""
    import copy

    drafter = copy.deepcopy(model)
    vocab = DraftVocab(target_ids, model.config.vocab_size)
    rows = torch.tensor(target_ids + sorted(set(range(model.config.vocab_size)) - set(target_ids)))
    with torch.no_grad():
        for layer in (drafter.get_input_embeddings(), drafter.get_output_embeddings()):
            layer.weight.copy_(layer.weight[rows])
    return drafter, vocab


def loop_samples(kind: str, n: int = LOOP_SAMPLES) -> tuple[Counter, dict]:
    """n answers of 4 tokens through the shared loop, and their exact distribution. The first token comes from the
    prefill; tokens 2-4 are decided by the first step's draft nodes at depths 1-3 (or the draw after a rejection),
    so depth 2 and deeper reach the histogram of tokens 3-4. Each drafter is built so that this happens often
    (asserted): untrained heads draft a complete (EAGLE) or wide (CTC) tree over the 6-token vocabulary, and
    lookahead's pool is seeded by a prompt holding every 3-gram."""
    vocab = 6
    target = Target(tiny_llama(vocab_size=vocab, seed=0))
    accept = AcceptConfig(temperature=0.8, top_p=0.95)
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(2)
    every_trigram = de_bruijn(vocab, 3) + [0, 0]

    def sd_over_a_draft_vocabulary() -> DraftModelDrafter:  # token 5 is never proposed; the others are shuffled
        model, draft_vocab = in_draft_vocabulary(perturbed(target.model, 4), [4, 2, 0, 1, 3])
        return DraftModelDrafter(model, SdConfig(gamma=3), accept, g, draft_vocab)

    drafter, prompt = {
        "sd-chain": lambda: (DraftModelDrafter(perturbed(target.model, 4), SdConfig(gamma=3), accept, g), [1, 3, 4]),
        "sd-draft-vocabulary": lambda: (sd_over_a_draft_vocabulary(), [1, 3, 4]),
        "sampled-tree": lambda: (TreeDrafter(perturbed(target.model, 4), branch=2, depth=3, accept=accept, generator=g),
                                 [1, 3, 4]),
        "eagle2": lambda: (EagleDrafter(new_net(target.model, heads=2, kv_heads=2, intermediate_size=32),
                                        DynamicTree(depth=2, top_k=vocab, total_tokens=vocab + vocab ** 2)), [1, 3, 4]),
        "lookahead": lambda: (LookaheadDrafter(LookaheadConfig(window=2, ngram=3, guesses=vocab ** 2)), every_trigram),
        "ctc": lambda: (CtcDrafter(randomised_slots(new_ctc_net(target.model, heads=2, kv_heads=2, intermediate_size=32,
                                                                slots=3)), CtcConfig(beam=36, top_k=vocab, total_tokens=42)),
                        every_trigram),
    }[kind]()
    cfg = GenerationConfig(max_new_tokens=4, accept=accept)
    counts: Counter = Counter()
    deep = 0  # answers in which one step took two or more draft tokens: depth 2 was verified and accepted
    for _ in range(n):
        out = generate(prompt, target, drafter, cfg, generator=g)
        counts[tuple(out.tokens)] += 1
        deep += max(out.stats.accept_lengths, default=1) >= 3
    assert deep >= n // 10, f"only {deep} of {n} answers accepted a draft at depth 2: deeper levels go untested"
    expected = {cell: p for cell, p in exact_sequences(target.model, prompt, accept, vocab, 4).items() if p > 0}
    assert set(counts) <= set(expected), "sampled a sequence outside the top-p nucleus"
    return counts, expected


def sequence_pvalues(counts: Counter, expected: dict) -> tuple[float, float]:
    """Chi-square p-values of tokens 1-2 and of tokens 3-4 (each a 36-cell joint; 4-token cells are too sparse)."""
    n = sum(counts.values())
    pvalues = []
    for part in (slice(0, 2), slice(2, 4)):
        observed: Counter = Counter()
        for cell, k in counts.items():
            observed[cell[part]] += k
        pvalues.append(chi2_pvalue(observed, marginal(expected, part), n))
    return pvalues[0], pvalues[1]


@pytest.mark.slow
@pytest.mark.parametrize("kind", LOOP_KINDS)
def test_loop_sampling_matches_target(kind):
    counts, expected = loop_samples(kind)
    first, later = sequence_pvalues(counts, expected)
    assert min(first, later) > ALPHA / 2, (first, later)  # two tests: each at half the level


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sd-chain", "sampled-tree"])
def test_loop_chi_square_catches_sampling_the_bonus_from_p(kind, monkeypatch):
    """Power check at the same n: a verifier that samples the token after a rejection from p instead of the residual
    norm(max(p - q, 0)) (a real, easy bug) fails the test above."""
    import model.common.accept as accept_rules

    monkeypatch.setattr(accept_rules, "residual_after_rejection", lambda p, q: p)
    first, later = sequence_pvalues(*loop_samples(kind))
    assert min(first, later) < ALPHA / 2, (first, later)


@pytest.mark.slow
def test_loop_chi_square_catches_draft_probabilities_left_in_draft_ids(monkeypatch):
    """Power check for the reduced vocabulary: a drafter that proposes target tokens but hands the accept rule its
    probabilities indexed by draft id (the id map forgotten) fails the test above, or is stopped by the loop."""
    def unmapped(self, q: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(self.vocab.target_vocab_size, dtype=q.dtype)
        full[: len(q)] = q
        return full

    monkeypatch.setattr(DraftModelDrafter, "_over_target", unmapped)
    try:
        first, later = sequence_pvalues(*loop_samples("sd-draft-vocabulary"))
    except ValueError as error:  # or the loop's own guard stops it: a proposed token its q gives weight 0
        assert "draft probability 0" in str(error)
    else:
        assert min(first, later) < ALPHA / 2, (first, later)


def test_typical_acceptance_thresholds_and_lossy_label():
    """Children pass when p(x) > min(epsilon, delta * exp(-H)); the bonus is the argmax after the last one."""
    cfg = AcceptConfig(temperature=1.0, typical=True, typical_epsilon=0.09, typical_delta=0.3)
    assert cfg.lossy and not AcceptConfig(typical=True).lossy  # greedy ignores typical acceptance
    peaked = torch.tensor([0.9, 0.05, 0.05, 0.0])  # low entropy: threshold = min(0.09, 0.3 * e^-0.39) = 0.09
    flat = torch.full((4,), 0.25)  # H = ln 4: threshold = min(0.09, 0.3 / 4) = 0.075
    probs = torch.stack([peaked, flat, flat])  # root, node 0, node 1
    # root's children: node 0 (token 1, p=0.05 < 0.09: rejected), node 1 (token 0, p=0.9: accepted)
    draft = Draft([1, 0], [-1, -1])
    assert typical_walk(draft, probs, cfg) == ([1], 0)
    chain = Draft([0, 3], [-1, 0])  # node 1 holds token 3 with p=0.25 > 0.075 under the flat row
    assert typical_walk(chain, probs, cfg) == ([0, 1], 0)


def test_draw_follows_each_row_and_never_picks_a_zero_weight():
    """The inverse-CDF draw: rows of unnormalised weights with zeros at both ends and inside; 20,000 draws per row
    match the weights (chi-square, p > 0.001) and never land on a zero."""
    weights = torch.tensor([[0.0, 3.0, 0.0, 1.0, 6.0, 0.0], [0.0, 0.0, 0.5, 0.5, 0.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    picks = torch.cat([draw(weights, generator) for _ in range(20_000)], dim=1)  # (2, 20000)
    assert picks.shape == (2, 20_000)
    for row, w in zip(picks, weights):
        counts = torch.bincount(row, minlength=len(w)).double()
        assert counts[w == 0].sum() == 0
        expected = w[w > 0].double() / w.sum() * len(row)
        assert chisquare(counts[w > 0].numpy(), expected.numpy()).pvalue > 1e-3
    assert draw(torch.tensor([0.0, 0.0, 2.0]), generator).tolist() == [2]  # one row: shape (1,)
    # 7 tokens: blocks of 3, the last padded with two zeros; a block of zeros between weights
    assert set(draw(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]).expand(500, 7), generator).view(-1).tolist()) == {6}
    assert set(draw(torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]).expand(500, 7), generator).view(-1).tolist()) == {0, 6}


def test_draw_keeps_a_262k_vocabularys_tail():
    """Two tokens hold 3/4 of the mass, the 262,142 between them share the rest (~1e-6 each, far below a float32
    cumulative sum's resolution near the total): 6,400 draws land in first / tail / last as 3/8, 1/4, 3/8."""
    vocab = 262_144
    weights = torch.full((vocab,), 1.0 / (vocab - 2))
    weights[0] = weights[-1] = 1.5
    generator = torch.Generator().manual_seed(1)
    picks = torch.cat([draw(weights.expand(64, vocab), generator).view(-1) for _ in range(100)])
    counts = [int((picks == 0).sum()), int(((picks > 0) & (picks < vocab - 1)).sum()), int((picks == vocab - 1).sum())]
    assert chisquare(counts, [len(picks) * f for f in (3 / 8, 1 / 4, 3 / 8)]).pvalue > 1e-3, counts
