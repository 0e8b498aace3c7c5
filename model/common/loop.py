"""generate(): the only decode loop. Plain decoding is the drafter that proposes nothing.

    state = target.prefill(prompt)
    repeat: draft = drafter.propose(state)        # chain or tree
            verdict = target.verify(state, draft)  # one forward + accept rule + KV commit
            commit tokens (cut at EOS / max_new_tokens / stop strings)
            drafter.update(state, verdict)
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Protocol

import torch

from model.common.accept import AcceptConfig
from model.common.device import synchronize
from model.common.state import DecodeState, Stats, Verdict
from model.common.target import Target
from model.common.tree import Draft


class Drafter(Protocol):
    """What every method implements; see model/ar for the smallest one."""

    hidden_layers: tuple[int, ...]  # target hidden_states indices the drafter needs; () for none
    # optional: node_argmax = True asks for the target's argmax at every draft node in Verdict.node_argmax

    def reset(self, state: DecodeState) -> None: ...  # after prefill

    def propose(self, state: DecodeState) -> Draft: ...

    def update(self, state: DecodeState, verdict: Verdict) -> None: ...  # after the tokens are committed


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 128
    accept: AcceptConfig = field(default_factory=AcceptConfig)
    eos_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    profile: bool = False  # time target and drafter separately (synchronizes CUDA at each phase)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class Generation:
    tokens: list[int]  # new tokens only, cut at the stop condition (EOS / stop string included)
    stats: Stats
    wall_time: float  # seconds, prefill included

    @property
    def steps(self) -> int:
        return len(self.stats.accept_lengths)


class Stopper:
    """Finds where the generated tokens must end; identical for every method, so outputs stay comparable."""

    TAIL_TOKENS = 64  # stop strings are matched in the decoded text of this many trailing tokens

    def __init__(self, cfg: GenerationConfig, tokenizer=None):
        if cfg.stop_strings and tokenizer is None:
            raise ValueError("stop strings need a tokenizer to decode generated tokens")
        self.cfg = cfg
        self.eos = set(cfg.eos_token_ids)
        self.tokenizer = tokenizer

    def cut(self, new_tokens: list[int], first_unchecked: int) -> int | None:
        """Length new_tokens must be cut to if a stop condition occurs at index >= first_unchecked, else None."""
        for i in range(first_unchecked, len(new_tokens)):
            if new_tokens[i] in self.eos or i + 1 >= self.cfg.max_new_tokens or self._stop_string_ends_at(new_tokens, i):
                return i + 1
        return None

    def _stop_string_ends_at(self, new_tokens: list[int], i: int) -> bool:
        if not self.cfg.stop_strings:
            return False
        tail = self.tokenizer.decode(new_tokens[max(0, i + 1 - self.TAIL_TOKENS) : i + 1])
        return any(s in tail for s in self.cfg.stop_strings)


def commit(state: DecodeState, verdict: Verdict, stopper: Stopper) -> int:
    """Append the verdict's tokens, cutting at a stop condition; returns how many were kept."""
    before = len(state.new_tokens)
    state.tokens.extend(verdict.tokens)
    state.hidden = verdict.hidden
    end = stopper.cut(state.new_tokens, before)
    if end is not None:
        del state.tokens[state.prompt_len + end :]
        state.finished = True
    return len(state.new_tokens) - before


def generate(
    prompt_ids: list[int],
    target: Target,
    drafter: Drafter,
    cfg: GenerationConfig,
    tokenizer=None,
    generator: torch.Generator | None = None,
) -> Generation:
    """Decode one prompt with speculative drafts from `drafter`; every method goes through here."""
    stopper = Stopper(cfg, tokenizer)
    layers = drafter.hidden_layers
    node_argmax = getattr(drafter, "node_argmax", False)
    clock = _Clock(target.device, cfg.profile)
    synchronize(target.device)
    start = time.perf_counter()

    with clock.time("forward"):
        state = target.prefill(prompt_ids, cfg.accept, layers, generator)
    state.finished = stopper.cut(state.new_tokens, 0) is not None
    with clock.time("draft"):
        drafter.reset(state)
    while not state.finished:
        with clock.time("draft"):
            draft = drafter.propose(state)
        with clock.time("forward"):
            verdict = target.verify(state, draft, cfg.accept, layers, generator, node_argmax)
        emitted = commit(state, verdict, stopper)
        state.stats.record(emitted, len(draft), draft.depth)
        if not state.finished:
            with clock.time("draft"):
                drafter.update(state, verdict)

    synchronize(target.device)
    state.stats.forward_time, state.stats.draft_time = clock.totals["forward"], clock.totals["draft"]
    return Generation(tokens=state.new_tokens, stats=state.stats, wall_time=time.perf_counter() - start)


class _Clock:
    """Accumulates time per phase when profiling; a no-op otherwise (no extra CUDA syncs)."""

    def __init__(self, device: torch.device, enabled: bool):
        self.device, self.enabled = device, enabled
        self.totals = {"forward": 0.0, "draft": 0.0}

    @contextmanager
    def time(self, phase: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        synchronize(self.device)
        start = time.perf_counter()
        yield
        synchronize(self.device)
        self.totals[phase] += time.perf_counter() - start
