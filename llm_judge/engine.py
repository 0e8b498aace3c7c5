"""One local model answering requests through the shared decode loop (any method, any drafter).

Requests are served one at a time: the loop decodes a single sequence, and a lock keeps concurrent
HTTP requests from interleaving on the model's caches.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch

from evaluation.prompting import Prompt
from evaluation.session import Session
from model.common.accept import AcceptConfig


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    mean_accepted: float  # tokens per target forward: the method's speculation at work


class Engine:
    """A decoding session serving requests one at a time."""

    def __init__(self, model: str, method: str = "ar", options: dict[str, Any] | None = None,
                 dtype: str = "auto", device: str | None = None, chat_template: str = "auto"):
        self.session = Session(model, method, options, dtype=dtype, device=device, chat_template=chat_template)
        self.target, self.tokenizer = self.session.target, self.session.tokenizer
        self.context_length = self.session.context_length
        self._lock = threading.Lock()
        self.session.drafter(AcceptConfig())  # a bad method, option or drafter fails at start-up, not per request

    def chat_prompt(self, messages: list[dict[str, str]]) -> Prompt:
        """The prompt for a chat (its ids, and the stop strings its format needs: a base model's conversation ends
        at "###"): system text joins the first user turn (not every template has a system role)."""
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns, answers = [], []
        for m in messages:
            if m["role"] == "user":
                turns.append(m["content"])
            elif m["role"] == "assistant":
                answers.append(m["content"])
        if not turns or messages[-1]["role"] != "user":
            raise ValueError("messages must contain a user turn and end with one")
        if system:
            turns[0] = f"{system}\n\n{turns[0]}"
        return self.session.prompt(turns, answers)

    def text_ids(self, prompt: str) -> list[int]:
        return self.tokenizer(prompt).input_ids

    def room(self, prompt_tokens: int) -> int | None:
        """How many tokens the context window leaves after the prompt (None: unbounded)."""
        return None if self.context_length is None else self.context_length - prompt_tokens

    def complete(self, ids: list[int], max_tokens: int, temperature: float, top_p: float,
                 stop: tuple[str, ...], seed: int | None) -> Completion:
        accept = AcceptConfig(temperature=temperature, top_p=top_p)
        with self._lock:
            self.session.generator.manual_seed(seed if seed is not None else torch.seed() % 2**63)
            gen = self.session.generate(ids, accept, max_tokens, stop)
        text = self.tokenizer.decode(gen.tokens, skip_special_tokens=True)
        stopped = bool(gen.tokens) and gen.tokens[-1] in self.session.eos
        for s in stop:
            if s in text:
                text, stopped = text[: text.index(s)], True
        finish = "stop" if stopped or len(gen.tokens) < max_tokens else "length"
        return Completion(text, len(ids), len(gen.tokens), finish, gen.stats.mean_accepted)
