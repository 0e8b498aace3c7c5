"""Leviathan et al. (2023)'s model of speculative decoding with a draft model: each of γ draft tokens
is accepted independently with probability α, and one drafter step costs c target steps.

    expected tokens per target forward  E(α, γ)    = (1 - α^(γ+1)) / (1 - α)
    expected speedup over plain decoding S(α, γ, c) = E(α, γ) / (γ c + 1)

`verify` generalizes the 1: the cost of verifying γ+1 tokens in target steps (evaluation.step_cost).

The model ignores what real runs pay on top: prefill, the loop's own work, the verification forward
costing more than one decoding step as it checks γ+1 tokens (unless `verify` says so), and answers
that end mid-draft.
"""
from __future__ import annotations


def expected_tokens(alpha: float, gamma: int) -> float:
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if alpha == 1:
        return gamma + 1.0
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


def expected_speedup(alpha: float, gamma: int, cost_ratio: float, verify: float = 1.0) -> float:
    return expected_tokens(alpha, gamma) / (gamma * cost_ratio + verify)


def alpha_from_tokens(tokens_per_step: float, gamma: int) -> float:
    """The acceptance rate α whose E(α, γ) equals the measured tokens per verification step."""
    if not 1 <= tokens_per_step <= gamma + 1:
        raise ValueError(f"tokens per step must be in [1, {gamma + 1}] for gamma={gamma}, got {tokens_per_step}")
    low, high = 0.0, 1.0
    for _ in range(60):  # E is increasing in α: bisection to float precision
        mid = (low + high) / 2
        low, high = (mid, high) if expected_tokens(mid, gamma) < tokens_per_step else (low, mid)
    return (low + high) / 2
